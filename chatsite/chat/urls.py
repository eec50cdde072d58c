from django.contrib.auth import views as auth_views
from django.urls import path

from . import attachment_views, media, views

urlpatterns = [
    path("", views.home, name="home"),
    path("c/", views.conversation_list, name="conversations"),
    path("c/new/", views.new_conversation, name="new"),
    path("c/<int:pk>/", views.conversation, name="conversation"),
    path("c/<int:pk>/earlier/", views.earlier_turns, name="earlier"),
    path("c/<int:pk>/turns/<int:turn_id>/", views.turn, name="turn"),
    path("c/<int:pk>/send/", views.send, name="send"),
    path("c/<int:pk>/stop/", views.stop, name="stop"),
    path("c/<int:pk>/turns/<int:turn_id>/retry/", views.regenerate, name="retry"),
    path("c/<int:pk>/turns/<int:turn_id>/regenerate/", views.regenerate, name="regenerate"),
    path("c/<int:pk>/turns/<int:turn_id>/edit/", views.edit, name="edit"),
    path("c/<int:pk>/turns/<int:turn_id>/version/", views.version, name="version"),
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
    path("accounts/sign-out-everywhere/", views.sign_out_everywhere, name="sign-out-everywhere"),
    path("accounts/invite/<str:token>/", views.signup, name="invite"),
]
