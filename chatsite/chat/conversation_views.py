"""The conversation header's actions: rename, pin, archive, delete. Each is a POST (CSRF) on
one of the person's own conversations (404 for anyone else's); htmx gets the new header and
sidebar, a browser without JavaScript a redirect."""

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import conversations, exports, imports, search, services, views
from .models import Conversation
from .rendering.user import attachment_view, other_block

PAGE = views.PAGE


def _mine(request, pk):
    return get_object_or_404(services.owned_conversations(request.user), pk=pk)


def _next(request, convo):
    """Back where the form was (the archived list), else the conversation."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect(convo)


def _head_and_sidebar(request, convo, **extra) -> HttpResponse:
    """The header (the request's target) and the sidebar, swapped out of band; the person's
    other tabs get the new list through their sockets."""
    conversations.publish_sidebar_now(request.user.pk)
    context = views._page_context(request.user, convo, with_turns=False)
    context.update(extra)
    html = render_to_string(f"{PAGE}#main-head", context, request=request)
    html += render_to_string(f"{PAGE}#sidebar", {**context, "oob": True}, request=request)
    return HttpResponse(html)


@login_required
def rename(request, pk):
    convo = _mine(request, pk)
    if request.method == "POST":
        try:
            conversations.rename(convo, request.POST.get("title", ""))
        except conversations.InvalidTitle as exc:
            if request.htmx:
                return _head_and_sidebar(request, convo, renaming=True, rename_error=str(exc))
            context = views._page_context(request.user, convo)
            context.update(renaming=True, rename_error=str(exc))
            return render(request, PAGE, context, status=422)
        return _head_and_sidebar(request, convo) if request.htmx else redirect(convo)
    # GET: the header with the title as a field (a full page without JavaScript).
    if request.htmx:
        return _head_and_sidebar(request, convo, renaming=True)
    context = views._page_context(request.user, convo)
    context["renaming"] = True
    return render(request, PAGE, context)


def _flag(name):
    @login_required
    @require_POST
    def view(request, pk):
        convo = _mine(request, pk)
        conversations.set_flag(convo, name, request.POST.get("on") == "1")
        return _head_and_sidebar(request, convo) if request.htmx else _next(request, convo)

    view.__name__ = name
    return view


pin = _flag("pinned")
archive = _flag("archived")


@login_required
async def delete(request, pk):
    """GET: the confirmation as a page (without JavaScript the header's Delete comes here).
    POST: delete it, and its interactions upstream in the background; then to `/`."""
    _, convo = await views._owned(request, pk)
    if request.method != "POST":
        context = {"conversation": convo}
        return await sync_to_async(render)(request, "chat/delete.html", context)
    await conversations.delete_everything(convo)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = "/"
        return response
    return redirect("home")


@login_required
def find(request):
    """The sidebar's search: its list (htmx), or a page of results (without JavaScript)."""
    q = request.GET.get("q", "").strip()[:200]
    context = {"q": q, "hits": search.search(request.user, q) if q else None}
    current = request.GET.get("current", "")
    if current.isdigit():  # the page's own conversation stays marked in the list
        context["conversation"] = Conversation(pk=int(current))
    if request.htmx:
        if not q:
            context["groups"] = views._sidebar(request.user)
        return render(request, f"{PAGE}#conversation-list", context)
    context.update(groups=views._sidebar(request.user), listed=[], archived=False)
    return render(request, "chat/conversations.html", context)


@login_required
def edit_form(request, pk, turn_id):
    """A message's Edit: its words in a box and its files, each removable (views.edit takes
    the form)."""
    turn = get_object_or_404(_mine(request, pk).turns, pk=turn_id)
    files = [
        {"index": i, **(attachment_view(block) or other_block(block))}
        for i, block in services.message_files(turn)
    ]
    return render(request, f"{PAGE}#edit-form", {"turn": turn, "files": files})


# The parts of a turn's meta line that load when opened (a turn's live markup stays small).
TURN_PARTS = {"models": "regenerate-menu", "details": "answer-details-body"}


@login_required
def turn_part(request, pk, turn_id, part):
    """An answer's "Regenerate with…" menu or its details (settings sent, tokens)."""
    if part not in TURN_PARTS:
        raise Http404
    turn = get_object_or_404(_mine(request, pk).turns, pk=turn_id)
    return render(request, f"{PAGE}#{TURN_PARTS[part]}", {"turn": turn})


@login_required
def export(request, pk):
    """Without JavaScript, the header's Export comes here: the two downloads."""
    convo = _mine(request, pk)
    return render(request, "chat/export.html", {"conversation": convo})


@login_required
def export_file(request, pk, kind):
    """One conversation as Markdown (to read) or JSON (every turn's steps verbatim; Import
    takes it back)."""
    convo = _mine(request, pk)
    if kind not in ("markdown", "json"):
        raise Http404
    turns = list(convo.turns.order_by("created_at", "pk"))
    if kind == "json":
        body, mime = exports.json_bytes(exports.conversation_json(convo, turns)), "application/json"
    else:
        body, mime = exports.conversation_markdown(convo, turns).encode(), "text/markdown"
    response = HttpResponse(body, content_type=f"{mime}; charset=utf-8")
    name = f"conversation-{convo.pk}.{'json' if kind == 'json' else 'md'}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def import_file(request):
    """A conversation from its JSON export; on a refusal, the list again with the reason."""
    try:
        convo = imports.import_conversation(request.user, request.FILES.get("file"))
    except imports.ImportRefused as exc:
        context = {
            "groups": views._sidebar(request.user),
            "listed": conversations.sidebar_groups(request.user),
            "import_error": str(exc),
        }
        return render(request, "chat/conversations.html", context, status=422)
    return redirect(convo)


@login_required
@require_POST
async def bulk(request):
    """Several of the person's conversations at once: archive, unarchive or delete (after the
    dialog, or this page without JavaScript)."""
    user = await request.auser()
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()][
        : conversations.SIDEBAR_LIMIT
    ]
    chosen = [c async for c in services.owned_conversations(user).filter(pk__in=ids)]
    action = request.POST.get("action")
    if action == "confirm-delete" and chosen:
        context = {"chosen": chosen, "next": request.POST.get("next", "")}
        return await sync_to_async(render)(request, "chat/bulk_delete.html", context)
    if action == "delete":
        for convo in chosen:
            await conversations.delete_everything(convo)
    elif action in ("archive", "unarchive"):
        await (
            services.owned_conversations(user)
            .filter(pk__in=[c.pk for c in chosen])
            .aupdate(archived=action == "archive")
        )
        await conversations.publish_sidebar(user.pk)
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect("conversations")
