from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from . import account_views, attachment_views, conversation_views, media, share_views, views
from .forms import PasswordSignInForm
from .sso import views as sso_views

urlpatterns = [
    path("", views.home, name="home"),
    path("c/", views.conversation_list, name="conversations"),
    path("c/new/", views.new_conversation, name="new"),
    path("c/search/", conversation_views.find, name="search"),
    path("c/import/", conversation_views.import_file, name="import"),
    path("c/bulk/", conversation_views.bulk, name="bulk"),
    path("c/<int:pk>/", views.conversation, name="conversation"),
    path("c/<int:pk>/earlier/", views.earlier_turns, name="earlier"),
    path("c/<int:pk>/turns/<int:turn_id>/", views.turn, name="turn"),
    path("c/<int:pk>/send/", views.send, name="send"),
    path("c/<int:pk>/stop/", views.stop, name="stop"),
    path("c/<int:pk>/usage/", views.usage, name="usage"),
    path("c/<int:pk>/settings/", views.save_settings, name="save-settings"),
    path("c/<int:pk>/turns/<int:turn_id>/retry/", views.regenerate, name="retry"),
    path("c/<int:pk>/turns/<int:turn_id>/regenerate/", views.regenerate, name="regenerate"),
    path("c/<int:pk>/turns/<int:turn_id>/edit/", views.edit, name="edit"),
    path(
        "c/<int:pk>/turns/<int:turn_id>/edit/form/", conversation_views.edit_form, name="edit-form"
    ),
    path("c/<int:pk>/turns/<int:turn_id>/version/", views.version, name="version"),
    re_path(
        r"^c/(?P<pk>[0-9]+)/turns/(?P<turn_id>[0-9]+)/(?P<part>models|details)/$",
        conversation_views.turn_part,
        name="turn-part",
    ),
    path("c/<int:pk>/rename/", conversation_views.rename, name="rename"),
    path("c/<int:pk>/pin/", conversation_views.pin, name="pin"),
    path("c/<int:pk>/archive/", conversation_views.archive, name="archive"),
    path("c/<int:pk>/delete/", conversation_views.delete, name="delete"),
    path("c/<int:pk>/share/", share_views.share, name="share"),
    path("c/<int:pk>/share/stop/", share_views.stop_sharing, name="stop-sharing"),
    path("c/<int:pk>/export/", conversation_views.export, name="export"),
    path("c/<int:pk>/export/<str:kind>/", conversation_views.export_file, name="export-file"),
    path("s/<str:token>/", share_views.page, name="shared"),
    path(
        "s/<str:token>/media/t/<int:turn_id>/<str:digest>/",
        share_views.media,
        name="shared-step-media",
    ),
    path(
        "s/<str:token>/media/t/<int:turn_id>/<str:digest>/suggestions/",
        share_views.suggestions,
        name="shared-search-suggestions",
    ),
    path("s/<str:token>/a/<str:sha256>/", share_views.attachment, name="shared-attachment"),
    path("media/t/<int:turn_id>/<str:digest>/", media.step_media, name="step-media"),
    path("a/<str:sha256>/", attachment_views.attachment, name="attachment"),
    path(
        "media/t/<int:turn_id>/<str:digest>/suggestions/",
        media.search_suggestions,
        name="search-suggestions",
    ),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=PasswordSignInForm
        ),
        name="login",
    ),
    path("accounts/logout/", sso_views.sign_out, name="logout"),
    # Single sign-on (404 unless OIDC_ISSUER is set); names are the library's.
    path("oidc/authenticate/", sso_views.Start.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", sso_views.Callback.as_view(), name="oidc_authentication_callback"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/sign-out-everywhere/", views.sign_out_everywhere, name="sign-out-everywhere"),
    path("accounts/invite/<str:token>/", views.signup, name="invite"),
    path("accounts/settings/", account_views.settings_page, name="settings"),
    path("accounts/theme/", account_views.theme, name="theme"),
    path("accounts/conversations.zip", account_views.export_all, name="export-all"),
]
