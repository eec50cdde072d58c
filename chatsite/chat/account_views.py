"""The person's own account page, `/accounts/settings/`: their preferences (language, theme,
model for new conversations, answers in their language), a new password, and the download of
everything they wrote there."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import conversations, sessions, zip_export
from .forms import AccountForm
from .models import Account

# Which of the page's two forms was posted (each has its own button).
PREFERENCES, PASSWORD = "preferences", "password"


@login_required
def settings_page(request):
    account = Account.for_user(request.user)
    posted = request.POST.get("form") if request.method == "POST" else None
    preferences = AccountForm(request.POST if posted == PREFERENCES else None, instance=account)
    password = PasswordChangeForm(request.user, request.POST if posted == PASSWORD else None)
    if posted == PREFERENCES and preferences.is_valid():
        account = preferences.save()
        # The page that answers is already in the language just chosen.
        translation.activate(account.language or translation.get_language_from_request(request))
        messages.success(request, _("Your settings are saved."))
        return redirect("settings")
    if posted == PASSWORD and password.is_valid():
        user = password.save()
        update_session_auth_hash(request, user)  # this sign-in stays…
        sessions.end_all(user, keep=request.session.session_key)  # …every other one ends
        messages.success(request, _("Your password is changed; your other sign-ins have ended."))
        return redirect("settings")
    context = {
        "groups": conversations.sidebar_groups(request.user),
        "preferences": preferences,
        "password_form": password,
    }
    status = 422 if posted else 200
    return render(request, "chat/settings.html", context, status=status)


@login_required
async def export_all(request):
    """Every conversation of the person (archived too) as JSON and Markdown, in one ZIP."""
    user = await request.auser()
    response = StreamingHttpResponse(zip_export.stream(user), content_type="application/zip")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="chatsite-conversations-{day}.zip"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def theme(request):
    """Saves the person's theme (system, light or dark): the sidebar's toggle, which has already
    applied it (JSON back), or a plain form post (back to the page it came from)."""
    choice = request.POST.get("theme", "")
    if choice not in Account.Theme.values:
        return HttpResponseBadRequest("Unknown theme.")
    Account.objects.update_or_create(user=request.user, defaults={"theme": choice})
    if not request.accepts("text/html"):
        return JsonResponse({"theme": choice})
    back = request.headers.get("Referer", "")
    safe = url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(back if safe else "settings")
