"""The person's own account page, `/accounts/settings/`, and the download of everything they
wrote there. Minimal for now: a later round adds language, theme and password here."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import conversations, zip_export
from .models import Account


@login_required
def settings_page(request):
    context = {"groups": conversations.sidebar_groups(request.user)}
    return render(request, "chat/settings.html", context)


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
