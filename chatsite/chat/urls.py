from django.contrib.auth import views as auth_views
from django.urls import path

from . import attachment_views, conversation_views, media, views

urlpatterns = [
    path("", views.home, name="home"),
    path("c/", views.conversation_list, name="conversations"),
    path("c/new/", views.new_conversation, name="new"),
    path("c/search/", conversation_views.find, name="search"),
    path("c/<int:pk>/", views.conversation, name="conversation"),
    path("c/<int:pk>/earlier/", views.earlier_turns, name="earlier"),
    path("c/<int:pk>/send/", views.send, name="send"),
    path("c/<int:pk>/stop/", views.stop, name="stop"),
    path("c/<int:pk>/turns/<int:turn_id>/retry/", views.retry, name="retry"),
    path("c/<int:pk>/rename/", conversation_views.rename, name="rename"),
    path("c/<int:pk>/pin/", conversation_views.pin, name="pin"),
    path("c/<int:pk>/archive/", conversation_views.archive, name="archive"),
    path("c/<int:pk>/delete/", conversation_views.delete, name="delete"),
    path("media/t/<int:turn_id>/<str:digest>/", media.step_media, name="step-media"),
    path("a/<str:sha256>/", attachment_views.attachment, name="attachment"),
    path(
        "media/t/<int:turn_id>/<str:digest>/suggestions/",
        media.search_suggestions,
        name="search-suggestions",
    ),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/invite/<str:token>/", views.signup, name="invite"),
]
