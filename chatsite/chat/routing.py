from django.urls import path

from .consumers import ConversationConsumer
from .person_consumer import PersonConsumer

websocket_urlpatterns = [
    path("ws/c/<int:pk>/", ConversationConsumer.as_asgi()),
    path("ws/u/", PersonConsumer.as_asgi()),
]
