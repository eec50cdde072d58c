"""The person's own account page, `/accounts/settings/`, and the download of everything they
wrote there. Minimal for now: a later round adds language, theme and password here."""

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from . import conversations, zip_export


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
