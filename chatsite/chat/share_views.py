"""Shared snapshots: `/s/<token>/` shows a conversation as it was when its owner shared it (the
branch then on screen), to anyone with the link, read-only, by the same renderer. Its media and
files are served through the token alone, and only those the snapshot shows. Stop sharing: every
such URL answers 404."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST, require_safe

from . import branches, conversations
from .attachment_views import serve_attachment
from .conversation_views import _head_and_sidebar, _mine
from .media import serve_step_media, serve_suggestions
from .models import Attachment, Conversation
from .rendering.media import share_token

MAX_TURNS = 1000


@login_required
@require_POST
def share(request, pk):
    """Share (a new link if it was not shared), then show the link."""
    convo = _mine(request, pk)
    if not convo.share_token:
        conversations.share(convo)
    if request.htmx:
        return _head_and_sidebar(request, convo, sharing=True, share_url=_share_url(request, convo))
    return redirect(f"{convo.get_absolute_url()}?share=1")


@login_required
@require_POST
def stop_sharing(request, pk):
    convo = _mine(request, pk)
    conversations.stop_sharing(convo)
    return _head_and_sidebar(request, convo) if request.htmx else redirect(convo)


def _share_url(request, convo) -> str:
    return request.build_absolute_uri(reverse("shared", args=[convo.share_token]))


def _shared(token: str) -> Conversation:
    convo = Conversation.objects.filter(share_token=token, shared_at__isnull=False).first()
    if convo is None or not token:
        raise Http404("This link is not shared (any more).")
    return convo


def _private(response):
    """A snapshot can be revoked at any moment: never cached, never indexed, no referrer."""
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_safe
def page(request, token):
    convo = _shared(token)
    turns = branches.annotate(  # a turn with other versions says which one this is
        branches.shared_tree(convo), conversations.shared_turns(convo)[:MAX_TURNS]
    )
    context = {"conversation": convo, "turns": turns, "shared": True}
    reset = share_token.set(token)
    try:  # rendered here, while the media links go through the token
        html = render_to_string("chat/shared.html", context, request=request)
    finally:
        share_token.reset(reset)
    return _private(HttpResponse(html))


@require_safe
def media(request, token, turn_id, digest):
    convo = _shared(token)
    return _private(
        serve_step_media(request, conversations.shared_turns(convo), turn_id, digest, audit=False)
    )


@require_safe
@xframe_options_sameorigin
def suggestions(request, token, turn_id, digest):
    convo = _shared(token)
    return _private(
        serve_suggestions(request, conversations.shared_turns(convo), turn_id, digest, audit=False)
    )


@require_safe
def attachment(request, token, sha256):
    """A file the snapshot shows: attached to one of its turns, by its owner."""
    convo = _shared(token)
    shown = conversations.attachment_hashes(
        conversations.shared_turns(convo).values_list("user_input", flat=True)
    )
    if sha256 not in shown:
        raise Http404("No such file.")
    rows = Attachment.objects.filter(owner_id=convo.owner_id, sha256=sha256)
    return _private(serve_attachment(request, rows))
