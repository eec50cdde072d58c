from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import mode


@csrf_exempt
@require_POST
def switch_mode(request):
    """Test-only: how the next ID tokens come out (see validator.py)."""
    try:
        mode.switch(request.POST.get("mode", ""))
    except ValueError:
        return HttpResponseBadRequest("unknown mode")
    return HttpResponse(mode.current())


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("test/mode/", switch_mode),
]
