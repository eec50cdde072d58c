"""Who may read whose conversation in the admin, the read log, and the admin's own pages
(exports, raw steps, token usage). Wired in by ConversationAdmin.get_urls (chatsite/chat/admin.py).

Reading your own conversation is always allowed and never logged. Reading someone else's is
allowed to superusers, and — when settings.ADMIN_TRANSCRIPT_READERS is "staff" — to staff with
the permission to view (or change) conversations. Every such read (the change page, the raw
steps, each export, a search that lists it, each media item fetched) writes a TranscriptRead:
who, whose, which, what, when.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from . import people, retention, review
from .exports import conversation_json, conversation_markdown, json_bytes
from .models import Attachment, Conversation, TranscriptRead, Turn
from .usage import bar_chart
from .usage import csv_text as usage_csv
from .usage import report as usage_report

USAGE_DAYS = 30
MAX_USAGE_DAYS = 366


# -- access --------------------------------------------------------------------------------


def may_read_others(user) -> bool:
    """Whether `user` may read other people's conversations (in the admin, logged)."""
    if not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    return settings.ADMIN_TRANSCRIPT_READERS == "staff" and (
        user.has_perm("chat.view_conversation") or user.has_perm("chat.change_conversation")
    )


def may_read(user, conversation: Conversation) -> bool:
    return conversation.owner_id == user.pk or may_read_others(user)


def readable_conversations(user, queryset=None):
    """Conversations `user` may read: all of them, or only their own."""
    queryset = Conversation.objects.all() if queryset is None else queryset
    return queryset if may_read_others(user) else queryset.filter(owner_id=user.pk)


def readable_turns(user, queryset=None):
    queryset = Turn.objects.all() if queryset is None else queryset
    return queryset if may_read_others(user) else queryset.filter(conversation__owner_id=user.pk)


def _read(request, conversation: Conversation, what: str, detail: str) -> TranscriptRead:
    return TranscriptRead(
        reader=request.user,
        owner_id=conversation.owner_id,
        conversation=conversation,
        conversation_title=str(conversation)[:200],
        what=what,
        detail=detail[:200],
    )


def log_read(request, conversation: Conversation, what: str, detail="") -> TranscriptRead | None:
    """Record a read of someone else's conversation; your own is not logged."""
    if conversation.owner_id == request.user.pk:
        return None
    read = _read(request, conversation, what, detail)
    read.save()
    return read


def log_search(request, conversations, search_term: str) -> None:
    """A search matches the words of messages: each other person's conversation it shows
    was read for those words (one row each, in one query)."""
    TranscriptRead.objects.bulk_create(
        [
            _read(request, conversation, "search", search_term)
            for conversation in conversations
            if conversation.owner_id != request.user.pk
        ]
    )


def visible_reads(user, queryset=None):
    """The read log as `user` may see it: whole for those who may read others' conversations,
    else only the reads of their own conversations (never another person's titles), without
    the review actions on them (a person is not told their conversation was flagged)."""
    queryset = TranscriptRead.objects.all() if queryset is None else queryset
    if may_read_others(user):
        return queryset
    return queryset.filter(owner_id=user.pk).exclude(what="review")


def conversation_for(request, pk) -> Conversation:
    """The conversation, if this user may read it; 404 otherwise (whether it exists or not)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such conversation.")
    conversation = (
        readable_conversations(request.user).select_related("owner").filter(pk=pk).first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


# -- exports -------------------------------------------------------------------------------


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def json_export(request, conversation: Conversation) -> HttpResponse:
    log_read(request, conversation, "json")
    return _download(
        json_bytes(conversation_json(conversation)),
        "application/json",
        f"conversation-{conversation.pk}.json",
    )


def markdown_export(request, conversation: Conversation) -> HttpResponse:
    log_read(request, conversation, "markdown")
    return _download(
        conversation_markdown(conversation).encode(),
        "text/markdown; charset=utf-8",
        f"conversation-{conversation.pk}.md",
    )


# -- raw JSON pages ------------------------------------------------------------------------


def _raw_page(request, model_admin, conversation, *, title, data, turn=None):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "subtitle": str(conversation),
        "conversation": conversation,
        "turn": turn,
        "json_text": json.dumps(data, ensure_ascii=False, indent=2),
    }
    return TemplateResponse(request, "admin/chat/raw_json.html", context)


def conversation_raw(request, model_admin, pk):
    """The whole conversation as the JSON export, shown in a page."""
    conversation = conversation_for(request, pk)
    log_read(request, conversation, "raw")
    return _raw_page(
        request,
        model_admin,
        conversation,
        title=f"Raw JSON of “{conversation}”",
        data=conversation_json(conversation),
    )


def turn_steps_raw(request, model_admin, pk, turn_id):
    """One turn's steps exactly as stored, shown in a page."""
    conversation = conversation_for(request, pk)
    turn = Turn.objects.filter(pk=turn_id, conversation=conversation).first()
    if turn is None:
        raise Http404("No such turn.")
    log_read(request, conversation, "raw")
    return _raw_page(
        request,
        model_admin,
        conversation,
        title=f"Steps of turn {turn.pk}",
        data=turn.steps,
        turn=turn,
    )


# -- token usage ---------------------------------------------------------------------------


def may_see_usage(user) -> bool:
    return user.is_active and user.is_staff and user.has_perm("chat.view_turn")


def usage(request, model_admin):
    """The usage page: bars per day (tokens, turns) for everyone or one person, the models,
    the top people, estimated cost; `?format=csv` downloads the same numbers."""
    if not may_see_usage(request.user):
        raise PermissionDenied
    try:
        days = int(request.GET.get("days", USAGE_DAYS))
    except ValueError:
        days = USAGE_DAYS
    days = max(1, min(days, MAX_USAGE_DAYS))
    person = None
    if request.GET.get("user", "").isdigit():
        person = get_user_model().objects.filter(pk=int(request.GET["user"])).first()
    result = usage_report(days, owner_id=person.pk if person else None)
    if request.GET.get("format") == "csv":
        who = f"-{person.get_username()}" if person else ""
        return _download(usage_csv(result).encode(), "text/csv; charset=utf-8",
                         f"usage{who}-{result.first:%Y%m%d}-{days}d.csv")  # fmt: skip
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Token usage",
        "subtitle": f"last {days} day{'s' if days != 1 else ''}",
        "days_count": days,
        "periods": (7, 30, 90),
        "person": person,
        "report": result,
        "token_chart": bar_chart(result.days, "total", "tokens"),
        "turn_chart": bar_chart(result.days, "turns", "turns"),
        "top_tokens": max((p.total for p in result.top_people), default=0) or 1,
        "timezone": timezone.get_current_timezone_name(),
    }
    return TemplateResponse(request, "admin/chat/usage.html", context)


# -- review --------------------------------------------------------------------------------


def review_action(request, pk):
    """POST one review action (reviewed, unreviewed, flag, unflag, notes) and come back."""
    if request.method != "POST":
        raise Http404("Not found.")
    conversation = conversation_for(request, pk)
    if not review.may_review(request.user, conversation):
        raise PermissionDenied
    try:
        done = review.apply(
            request.user,
            conversation,
            request.POST.get("action", ""),
            reason=request.POST.get("reason", ""),
            notes=request.POST.get("notes", ""),
        )
        messages.success(request, f"“{conversation}”: {done}.")
    except ValueError as error:
        messages.error(request, str(error))
    return HttpResponseRedirect(reverse("admin:chat_conversation_change", args=[conversation.pk]))


# -- a person's data -----------------------------------------------------------------------


def may_manage_people(user) -> bool:
    """Exporting or deleting everything of a person: those who read others' conversations and
    may delete accounts."""
    return may_read_others(user) and user.has_perm(
        f"{get_user_model()._meta.app_label}.delete_user"
    )


def export_person(request, person) -> HttpResponse:
    data = people.export_zip(person)
    people.log_export(request.user, person)
    return _download(data, "application/zip", f"person-{person.pk}-{person.get_username()}.zip")


def delete_person_page(request, model_admin, person):
    """Confirm, then delete a person with all their data (upstream interactions too)."""
    if person.pk == request.user.pk:
        messages.error(request, "You cannot delete yourself here.")
        return None
    if TranscriptRead.objects.filter(reader=person).exists():
        messages.error(request, f"{person} has read others' conversations and the read log "
                                "keeps its readers: deactivate the account instead.")  # fmt: skip
        return None
    plan = retention.plan(Conversation.objects.filter(owner=person))
    if request.POST.get("confirm") == "yes":
        username = person.get_username()
        result = retention.delete_person(person)
        person.pk = result.person_pk
        people.log_deletion(request.user, person, result.summary())
        note = (
            f" ({result.upstream_failed} could not be deleted upstream)"
            if result.upstream_failed
            else ""
        )
        messages.success(request, f"Deleted {username} and {result.summary()}{note}.")
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"Delete {person.get_username()} with all their data?",
        "person": person,
        "plan": plan,
        "attachments": Attachment.objects.filter(owner=person).count(),
        "action": request.POST.get("action", ""),
    }
    return TemplateResponse(request, "admin/chat/delete_person.html", context)
