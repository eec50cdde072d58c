"""Thin views: check access, call the services layer, render a page or an htmx partial."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.db.models import Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from . import attachments, branches, conversations, limits, services, sessions
from .forms import ComposerForm, default_model_for
from .models import Invite, Turn

PAGE = "chat/conversation.html"
PAGE_TURNS = 30  # turns on a page; earlier ones load on demand
MAX_REACH = 500


def _sidebar(user):
    return conversations.sidebar_groups(user)


def _latest_turns(conversation, before=None, showing=None):
    """A page of the branch on screen, oldest first, and whether there are earlier turns.
    `showing`: a turn the page must reach back to (a search result), however far back."""
    return branches.page(conversation, PAGE_TURNS, before=before, showing=showing)


def _tokens(conversation) -> int:
    """Tokens the conversation used, every branch and its title included."""
    return conversation.turns.aggregate(total=Sum("total_tokens"))["total"] or 0


def _page_context(user, conversation=None, form=None, *, with_turns=True, reach=None):
    turns, earlier = [], False
    tokens = 0
    if conversation is not None:
        if with_turns:
            turns, earlier = _latest_turns(conversation, showing=reach)
        tokens = _tokens(conversation)
    return {
        "conversation": conversation,
        "turns": turns,
        "earlier": earlier,
        "tokens": tokens,
        "groups": _sidebar(user),
        "default_model": default_model_for(user),
        "form": form or ComposerForm.for_conversation(conversation, user=user),
    }


@login_required
def home(request):
    return render(request, PAGE, _page_context(request.user))


@login_required
def conversation_list(request):
    """All the person's conversations by date; `?archived=1`: the archived ones."""
    archived = request.GET.get("archived") == "1"
    context = {
        "groups": _sidebar(request.user),
        "listed": conversations.sidebar_groups(request.user, archived=archived),
        "archived": archived,
    }
    return render(request, "chat/conversations.html", context)


@login_required
def earlier_turns(request, pk):
    """The page of turns before `?before=<turn id>`, for "Show earlier messages"."""
    convo = get_object_or_404(services.owned_conversations(request.user), pk=pk)
    try:
        before = int(request.GET["before"])
    except (KeyError, ValueError):
        raise Http404 from None
    turns, earlier = _latest_turns(convo, before)
    context = {"conversation": convo, "turns": turns, "earlier": earlier}
    return render(request, f"{PAGE}#earlier", context)


@login_required
def conversation(request, pk):
    convo = get_object_or_404(services.owned_conversations(request.user), pk=pk)
    reach = request.GET.get("turn", "")
    reach = int(reach) if reach.isdigit() else None
    context = _page_context(request.user, convo, reach=reach)
    if request.GET.get("share") and convo.share_token:  # after Share, without JavaScript
        url = request.build_absolute_uri(reverse("shared", args=[convo.share_token]))
        context.update(sharing=True, share_url=url)
    return render(request, PAGE, context)


@login_required
def usage(request, pk):
    """The header's token total, as it is now (a turn ended, a title was written)."""
    convo = get_object_or_404(services.owned_conversations(request.user), pk=pk)
    context = {"conversation": convo, "tokens": _tokens(convo)}
    return render(request, f"{PAGE}#conversation-usage", context)


@login_required
def turn(request, pk, turn_id):
    """One turn, whole: a tab loads it this way when it is too large for a socket frame."""
    convo = get_object_or_404(services.owned_conversations(request.user), pk=pk)
    shown = get_object_or_404(convo.turns, pk=turn_id)
    branches.annotate(branches.load(convo), [shown])
    return render(request, f"{PAGE}#turn", {"turn": shown})


@login_required
@require_POST
async def version(request, pk, turn_id):
    """Show version `turn_id` of its turn and the turns that follow it on its branch."""
    _, convo = await _owned(request, pk)
    if not await branches.choose(convo, turn_id):
        raise Http404
    if not request.htmx:
        return redirect(convo)
    return HttpResponse(await sync_to_async(_render_transcript)(convo, turn_id))


def _render_transcript(convo, showing) -> str:
    turns, earlier = _latest_turns(convo, showing=showing)
    context = {"conversation": convo, "turns": turns, "earlier": earlier}
    return render_to_string(f"{PAGE}#earlier", context)


@login_required
@require_POST
def sign_out_everywhere(request):
    """End every sign-in of this person, this one included; their open sockets close."""
    user = request.user
    logout(request)
    sessions.end_all(user)
    return redirect("login")


def _composer_error(message: str, status=422, form=None) -> HttpResponse:
    html = render_to_string(f"{PAGE}#composer-error", {"error": message, "oob": True})
    for field in form.setting_fields() if form is not None else ():
        html += render_to_string(f"{PAGE}#field-error", {"field": field, "oob": True})
    response = HttpResponse(html, status=status)
    response["HX-Reswap"] = "none"  # keep the page (and the typed message) as it is
    return response


async def _composer(request, conversation=None):
    """The posted composer, validated against the site's models and tools."""
    form = await sync_to_async(ComposerForm.for_conversation)(
        conversation, request.POST, request.FILES, user=await request.auser()
    )
    valid = await sync_to_async(form.is_valid)()
    return form, valid


async def _owned(request, pk):
    """The signed-in person and their conversation `pk`, or 404."""
    user = await request.auser()
    convo = await services.get_conversation(user, pk)
    if convo is None:
        raise Http404
    return user, convo


class _Refused(Exception):
    """The message cannot be sent; `response` tells the person why (their text stays)."""

    def __init__(self, response):
        self.response = response


async def _stored(user, uploads) -> list:
    """The uploads stored (attachments.save_uploads); none: no trip to the database thread."""
    return await sync_to_async(attachments.save_uploads)(user, uploads) if uploads else []


async def _accept_message(request, user, conversation=None):
    """The posted composer, validated, its files stored. Returns (form, text, files) or raises
    _Refused. Files are stored only for a message that may be sent: a message with files, or
    one that starts a conversation, passes the busy check and the person's limits here; any
    other is checked as it is saved (services.send_message), in the same trip to the database
    as the rest of what its request needs."""
    try:
        attachments.check_request_length(request.META.get("CONTENT_LENGTH"))
    except attachments.AttachmentError as exc:
        raise _Refused(_composer_error(str(exc))) from None
    form, valid = await _composer(request, conversation)
    if not valid:
        raise _Refused(await sync_to_async(_composer_error)(form.first_error(), form=form))
    uploads = request.FILES.getlist("attachments")
    try:
        text = services.clean_message(form.cleaned_data["message"], with_files=bool(uploads))
        if uploads or conversation is None:
            if (
                conversation is not None
                and await conversation.turns.exclude(status__in=Turn.FINAL).aexists()
            ):
                raise services.ConversationBusy()
            await sync_to_async(limits.check_can_send)(user, form.cleaned_data["model"])
        files = await _stored(user, uploads)
    except services.ConversationBusy as exc:
        raise _Refused(_composer_error(str(exc), status=409)) from None
    except limits.LimitReached as exc:
        raise _Refused(_composer_error(str(exc), status=429)) from None
    except (services.InvalidInput, attachments.AttachmentError) as exc:
        raise _Refused(_composer_error(str(exc))) from None
    return form, text, files


@login_required
@require_POST
async def new_conversation(request):
    user = await request.auser()
    try:
        form, text, files = await _accept_message(request, user)
    except _Refused as refused:
        return refused.response
    data = form.cleaned_data
    convo = await services.create_conversation(
        user, text or files[0].name, model=data["model"], options=form.conversation_settings()
    )
    try:
        await services.send_message(
            user, convo, text, files=files, checked=True, background=data["background"],
            account=getattr(request, "account", None),
        )  # fmt: skip
    except limits.LimitReached as exc:  # running replies hold part of the budget
        await convo.adelete()
        return _composer_error(str(exc), status=429)
    if not request.htmx:
        return redirect(convo)
    response = HttpResponse(await sync_to_async(_render_app)(request, user, convo))
    response["HX-Push-Url"] = convo.get_absolute_url()
    return response


def _render_app(request, user, convo) -> str:
    # Sync: the template reads the session user and runs queries.
    return render_to_string(f"{PAGE}#app", _page_context(user, convo), request=request)


@login_required
@require_POST
async def send(request, pk):
    user, convo = await _owned(request, pk)
    try:
        form, text, files = await _accept_message(request, user, convo)
    except _Refused as refused:
        return refused.response
    data = form.cleaned_data
    await services.update_settings(convo, data["model"], form.conversation_settings())
    try:
        await services.send_message(
            user, convo, text, files=files, checked=bool(files), background=data["background"],
            account=getattr(request, "account", None),
        )  # fmt: skip
    except services.ConversationBusy as exc:  # another tab started one meanwhile
        return _composer_error(str(exc), status=409)
    except limits.LimitReached as exc:  # running replies hold part of the budget
        return _composer_error(str(exc), status=429)
    if not request.htmx:
        return redirect(convo)
    # The new turn reaches this tab, like every other tab, through the socket. The answer
    # clears the composer's error and shows the model the conversation now uses: two small
    # fragments, drawn while the reply's request is under way (the header's token total
    # follows the reply's end, live_status.js).
    context = {
        "conversation": convo,
        "default_model": settings.GEMINI_MODEL,
        "oob": True,
        "model_oob": True,
    }
    html = render_to_string(f"{PAGE}#composer-error", context)
    html += render_to_string(f"{PAGE}#header-model", context)
    return HttpResponse(html, status=200)


@login_required
@require_POST
async def save_settings(request, pk):
    """A settings change on a conversation, saved when made (the composer posts its settings
    on each change): checked by the same form as a send; errors beside their fields."""
    _, convo = await _owned(request, pk)
    form, valid = await _composer(request, convo)
    if not request.POST.get("settings_form"):
        return HttpResponse("The settings panel was not posted.", status=400)
    if valid:
        data = form.cleaned_data
        await services.update_settings(convo, data["model"], form.conversation_settings())
    model_errors = form.errors.get("model")
    context = {
        "form": form,
        "conversation": convo,
        "error": model_errors[0] if model_errors else "",
        "default_model": settings.GEMINI_MODEL,
        "oob": True,
    }
    html = await sync_to_async(render_to_string)(f"{PAGE}#settings-saved", context)
    if not request.htmx:
        return redirect(convo)
    return HttpResponse(html, status=200 if valid else 422)


@login_required
@require_POST
async def stop(request, pk):
    _, convo = await _owned(request, pk)
    await services.stop(convo)
    return HttpResponse(status=204) if request.htmx else redirect(convo)


@login_required
@require_POST
async def regenerate(request, pk, turn_id):
    """A new version of an answer (also Retry), optionally from another model."""
    user, convo = await _owned(request, pk)
    model = request.POST.get("model") or None
    if model is not None and model not in [*settings.GEMINI_MODELS, *settings.GEMINI_AGENTS]:
        return _composer_error(gettext("Choose one of the models on offer."))
    return await _new_version(
        request, convo, services.regenerate_turn(user, convo, turn_id, model=model)
    )


@login_required
@require_POST
async def edit(request, pk, turn_id):
    """The person's message with new words and files: a new version of that turn. `keep`: the
    places of the message's files that stay (the edit form always sends it; without it, all
    stay); `attachments`: files to add."""
    user, convo = await _owned(request, pk)
    text = request.POST.get("message", "")
    keep = [k for k in request.POST.getlist("keep") if k] if "keep" in request.POST else None
    uploads = request.FILES.getlist("attachments")
    try:
        attachments.check_request_length(request.META.get("CONTENT_LENGTH"))
        if uploads:
            await sync_to_async(limits.check_can_send)(user, convo.model)
        files = await _stored(user, uploads)
    except limits.LimitReached as exc:
        return _composer_error(str(exc), status=429)
    except attachments.AttachmentError as exc:
        return _composer_error(str(exc))
    editing = services.edit_turn(user, convo, turn_id, text, keep=keep, files=files)
    return await _new_version(request, convo, editing)


async def _new_version(request, convo, starting) -> HttpResponse:
    # The new version reaches this tab, like every other tab, through the socket.
    try:
        if await starting is None:
            raise Http404
    except services.InvalidInput as exc:  # ConversationBusy too
        status = 409 if isinstance(exc, services.ConversationBusy) else 422
        return _composer_error(str(exc), status=status)
    except limits.LimitReached as exc:
        return _composer_error(str(exc), status=429)
    if not request.htmx:
        return redirect(convo)
    return HttpResponse(render_to_string(f"{PAGE}#composer-error", {"oob": True}))


def signup(request, token=None):
    """Open sign-up (when ALLOW_SIGNUP), or sign-up through an admin's invite link (always)."""
    invite = None
    if token is not None:
        invite = Invite.objects.filter(token=token).first()
        if invite is None or not invite.usable:
            return render(request, "registration/invite_invalid.html", status=410)
    elif not (settings.ALLOW_SIGNUP and settings.PASSWORD_LOGIN):
        raise Http404("Sign-up is turned off here. Ask an admin for an invite.")
    if request.user.is_authenticated:
        return redirect("home")
    if not settings.PASSWORD_LOGIN:  # an invite, taken up through single sign-on only
        return render(request, "registration/signup.html", {"form": None, "invite": invite})
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            if invite is not None:
                # Claimed once: a second use of the link finds it used.
                claimed = Invite.objects.filter(pk=invite.pk, used_by=None).update(used_by=user)
                if not claimed:
                    transaction.set_rollback(True)
                    return render(request, "registration/invite_invalid.html", status=410)
        login(request, user, backend="chatsite.security.auth.ThrottledModelBackend")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form, "invite": invite})
