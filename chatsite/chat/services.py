"""The one layer that starts, stops and resumes turns. Views and consumers call only this.

Every function takes the *owner* and fetches objects scoped to them, so a caller cannot forget
the ownership check.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from . import (
    attachments,
    branches,
    conversations,
    hot_reads,
    language,
    leases,
    limits,
    relay,
    retry_notes,
    sessions,
)
from .early_request import send_early
from .forms import is_agent, valid_mcp_name
from .hub import hub
from .models import Account, Conversation, McpServer, Turn
from .runner import TurnRunner, assistant_frame, status_frame, turn_added_frame
from .tools import only_enabled

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 100_000
TITLE_CHARS = 80
MAX_CATCH_UP = 200


class InvalidInput(ValueError):
    """The person sent something we will not forward; the message says what to change."""


LimitReached = limits.LimitReached
BUSY = gettext_lazy("Wait for the reply to finish, or press Stop.")


class ConversationBusy(InvalidInput):
    """A reply is still being written in this conversation: one at a time, on every path."""

    def __init__(self, message: str | None = None):
        super().__init__(message or str(BUSY))  # in the language of the moment it is raised


# One start at a time per person in this process: the busy and budget checks and the INSERT of
# the turn that makes them true happen together, so concurrent sends cannot all pass them.
_start_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()


def _start_lock(user_id: int) -> asyncio.Lock:
    lock = _start_locks.get(user_id)
    if lock is None:
        lock = _start_locks[user_id] = asyncio.Lock()
    return lock


def clean_message(text, *, with_files: bool = False) -> str:
    if not isinstance(text, str):
        raise InvalidInput(gettext("The message must be text."))
    text = text.replace("\x00", "").strip()
    if not text and not with_files:
        raise InvalidInput(gettext("Type a message first."))
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(
            gettext("That message is %(size)s characters; the limit is %(limit)s.")
            % {"size": intcomma(len(text)), "limit": intcomma(MAX_MESSAGE_CHARS)}
        )
    return text


def owned_conversations(user):
    return Conversation.objects.filter(owner=user)


async def get_conversation(user, conversation_id) -> Conversation | None:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    return await owned_conversations(user).filter(pk=conversation_id).afirst()


def socket_access(user_id, conversation_id, session_key) -> tuple[hot_reads.Access | None, object]:
    """Re-checks, from the database and in one query (its session's too when sessions are
    stored there), that the person still exists, is active and owns the conversation, and
    that their sign-in holds. Returns (the conversation with its owner and their account,
    whether a reply is unfinished and its turns' mark, or None; when the sign-in ends, None
    if it has). Sync."""
    table = sessions.table()
    guess = branches.likely_parent(conversation_id)
    found = hot_reads.access(user_id, conversation_id, session_key, table, parent=guess)
    if found is None:
        return None, None
    owner = found.conversation.owner
    row = found.session if table is not None else sessions.MISSING
    return found, sessions.valid_until(session_key, user_id, user=owner, row=row)


def title_for(text: str) -> str:
    # Until the model writes one: the message's first words, never an emulator directive.
    return conversations.clean_title(text, TITLE_CHARS) or "New conversation"


async def create_conversation(user, text: str, *, model=None, options=None) -> Conversation:
    conversation = await Conversation.objects.acreate(
        owner=user, title=title_for(text), model=model or settings.GEMINI_MODEL,
        settings=options or {},
    )  # fmt: skip
    conversation.listed = False  # no tab lists it yet: its first turn sends the whole list
    return conversation


async def update_settings(conversation: Conversation, model: str, options: dict) -> None:
    """A new model or new settings apply from the next turn on; the chain is kept."""
    if conversation.model != model or conversation.settings != options:
        conversation.model, conversation.settings = model, options
        await conversation.asave(update_fields=["model", "settings", "updated_at"])


def build_request(
    conversation: Conversation,
    turn: Turn,
    previous_interaction_id: str | None,
    *,
    mcp_servers=(),
    answer_line: str = "",
) -> dict:
    """The create body. Tools, system instruction and generation config are interaction-scoped:
    they are re-sent with every turn. An agent request has no `generation_config`: it takes
    tools, response_format and its own `agent_config` (forms.agent_ignores lists the rest)."""
    name = turn.model or conversation.model
    opts = conversation.settings or {}
    agent = is_agent(name)
    body: dict = {"agent" if agent else "model": name, "input": turn.user_input}
    if previous_interaction_id:
        body["previous_interaction_id"] = previous_interaction_id
    # The person's own instruction first; their language's line ("Answer in …") after it.
    instruction = "\n\n".join(t for t in (opts.get("system_instruction"), answer_line) if t)
    if instruction:
        body["system_instruction"] = instruction
    tools = _tools(opts, mcp_servers)
    if tools:
        body["tools"] = tools
    formats = []
    if opts.get("response_schema"):
        formats.append(
            {"type": "text", "mime_type": "application/json", "schema": opts["response_schema"]}
        )
    if not agent and "image" in name and (opts.get("aspect_ratio") or opts.get("image_size")):
        image = {"type": "image"}
        image.update({k: opts[k] for k in ("aspect_ratio", "image_size") if opts.get(k)})
        formats.append(image)
    if formats:
        body["response_format"] = formats[0] if len(formats) == 1 else formats
    if agent:
        body["background"] = True  # agents only run in the background
        config = _agent_config(name, opts)
        if config:
            body["agent_config"] = config
        if name.startswith("antigravity"):
            body["environment"] = {"type": "remote"}
        return body
    generation = {
        key: opts[key]
        for key in ("thinking_level", "thinking_summaries", "max_output_tokens")
        if opts.get(key)
    }
    if opts.get("voice") and is_speech_model(name):  # other models refuse a speech_config
        generation["speech_config"] = [{"voice": opts["voice"]}]
    if generation:
        body["generation_config"] = generation
    if turn.background:
        body["background"] = True
    return body


def is_speech_model(name: str) -> bool:
    return "tts" in name


def _agent_config(name: str, opts: dict) -> dict | None:
    """What of the composer an agent's own config takes: Deep Research's thought summaries."""
    if name.startswith("deep-research") and opts.get("thinking_summaries"):
        return {"type": "deep-research", "thinking_summaries": opts["thinking_summaries"]}
    return None


def _tools(opts: dict, mcp_servers) -> list[dict]:
    from .tools import REGISTRY

    tools = [{"type": kind} for kind in opts.get("tools") or []]
    if opts.get("file_search_stores"):
        tools.append({"type": "file_search", "file_search_store_names": opts["file_search_stores"]})
    tools += [REGISTRY[n].declaration() for n in opts.get("functions") or [] if n in REGISTRY]
    wanted = set(opts.get("mcp_servers") or [])
    for server in mcp_servers:
        if server.name in wanted and not valid_mcp_name(server.name):
            log.warning("MCP server %r left out: the API refuses that name", server.name)
        elif server.name in wanted:
            tool = {"type": "mcp_server", "name": server.name, "url": server.url}
            if server.headers:
                tool["headers"] = server.headers
            if server.allowed_tools:
                # "validated": the model may call one of these tools or answer in words; "any"
                # would force a call on every turn (the tool-choice modes of the SDK).
                tool["allowed_tools"] = [{"mode": "validated", "tools": server.allowed_tools}]
            tools.append(tool)
    return tools


def public_request(body: dict) -> dict:
    """What is kept with the turn: the options, never the input or an MCP server's headers."""
    kept = {k: v for k, v in body.items() if k not in {"input", "stream"}}
    if "tools" in kept:
        kept["tools"] = [{k: v for k, v in t.items() if k != "headers"} for t in kept["tools"]]
    return kept


def _expired(chained_at) -> bool:
    """Stored interactions expire upstream (GEMINI_STORED_DAYS): past that, the branch goes
    as history at once instead of a chain the API would refuse."""
    days = settings.GEMINI_STORED_DAYS
    return chained_at is not None and timezone.now() - chained_at > timedelta(days=days)


def _after_import(previous: str | None, parent_id: int | None) -> bool:
    if previous is not None or parent_id is None:
        return False
    request = Turn.objects.filter(pk=parent_id).values_list("request", flat=True).first()
    return bool((request or {}).get("imported"))


async def send_message(
    user,
    conversation: Conversation,
    text: str,
    *,
    files=(),
    checked=False,
    background=False,
    account=None,
) -> Turn:
    """Save the turn first (the user's words are never lost), show it, then start the reply.
    `files`: Attachments already stored (attachments.save_uploads). `account`: the person's
    Account when the caller has it (a request's), saving a query before the request goes out.
    Raises InvalidInput or LimitReached (nothing saved) with a message for the person."""
    text = clean_message(text, with_files=bool(files))
    words = [{"type": "text", "text": text}] if text else []
    user_input = words + attachments.input_blocks(files)
    async with _start_lock(user.pk):
        return await _start(
            conversation, user, user_input, conversation.model, background,
            checked=checked, account=account,
        )  # fmt: skip


class AccessLost(Exception):
    """A socket's person no longer has the conversation, or their sign-in has ended."""

    def __init__(self, *, signed_out: bool):
        super().__init__("signed out" if signed_out else "no access")
        self.signed_out = signed_out


async def send_on_socket(user_id: int, text, access: Callable[[], hot_reads.Access]) -> Turn:
    """A message typed on a conversation's socket. `access` (sync: it reads the database)
    returns what hot_reads.access reads if the person may still send to it, else raises
    AccessLost. It runs in the same trip to the database as the message's own checks, one
    thread hop fewer before the request leaves (issue 16, item 1). Otherwise as
    send_message."""
    text = clean_message(text)
    async with _start_lock(user_id):
        words = [{"type": "text", "text": text}]
        return await _start(None, None, words, None, False, access=access)


async def regenerate_turn(user, conversation: Conversation, turn_id, *, model=None) -> Turn | None:
    """A new version of a finished answer: a sibling turn with the same input and parent (Retry
    on a failed or stopped turn is this too, so the question is never asked twice)."""
    old = await conversation.turns.filter(pk=turn_id).afirst()
    if old is None or not old.is_final:
        return None
    model = model or conversation.model
    return await _new_version(user, conversation, old, old.user_input, model, old.background)


retry_turn = regenerate_turn


def _is_words(block) -> bool:
    return isinstance(block, dict) and block.get("type") == "text" and not attachments.is_ref(block)


def message_files(turn: Turn) -> list[tuple[int, dict]]:
    """The files of a message (every block but its words), each with its place in the input:
    what the edit form lists, and names in `keep`."""
    blocks = turn.user_input if isinstance(turn.user_input, list) else []
    return [(i, b) for i, b in enumerate(blocks) if not _is_words(b)]


async def edit_turn(
    user, conversation: Conversation, turn_id, text, *, keep=None, files=()
) -> Turn | None:
    """The person's message, edited: a sibling turn with the new words, chained to the edited
    turn's parent interaction (none for the first turn). Its files: those of the message at
    the places in `keep` (all of them when None), then `files` (Attachments just stored)."""
    old = await conversation.turns.filter(pk=turn_id).afirst()
    if old is None:
        return None
    wanted = None if keep is None else {str(k) for k in keep}
    kept = [b for i, b in message_files(old) if wanted is None or str(i) in wanted]
    refs = {b["attachment"] for b in kept if attachments.is_ref(b)}
    added = [b for b in attachments.input_blocks(files) if b["attachment"] not in refs]
    if len(kept) + len(added) > attachments.max_files():
        raise InvalidInput(
            f"That is {len(kept) + len(added)} files; "
            f"the limit is {attachments.max_files()} per message."
        )
    text = clean_message(text, with_files=bool(kept or added))
    blocks = ([{"type": "text", "text": text}] if text else []) + kept + added
    return await _new_version(user, conversation, old, blocks, conversation.model, False)


async def _new_version(user, conversation, old: Turn, user_input, model, background) -> Turn:
    async with _start_lock(user.pk):
        return await _start(conversation, user, user_input, model, background, version_of=old)


async def _start(
    conversation: Conversation | None,
    user,
    user_input: list,
    model: str | None,
    background: bool,
    *,
    version_of: Turn | None = None,
    checked: bool = False,
    account=None,
    access: Callable[[], hot_reads.Access] | None = None,
) -> Turn:
    """Save the new turn, start its runner, then show it. Everything the request needs — the
    checks, the parent — is one trip to the database thread (_prepare); the request then goes
    out while a second trip counts the message against the rate and saves the turn (_save),
    and nothing is shown before it is saved: a refusal or a failed INSERT there cancels the
    request and raises. What only the tabs need (the bubble, the list's order) follows.
    `access`: instead of the conversation, the person and the model (send_on_socket)."""
    turn, body, history, failure, mark = await sync_to_async(_prepare)(
        conversation, user, user_input, model, background,
        version_of=version_of, checked=checked, account=account, access=access,
    )  # fmt: skip
    conversation = turn.conversation
    user = user or conversation.owner  # a socket's: it came with the conversation
    early = send_early(body) if failure is None and not history else None
    try:
        await sync_to_async(_save)(
            conversation, turn, version_of, mark, count_for=None if checked else user
        )
    except BaseException:
        if early is not None:
            await early.close()
        raise
    if failure is not None:
        hub.publish(conversation.pk, [turn_added_frame(turn)])
        await TurnRunner.fail_orphan(turn, failure)
        return turn
    TurnRunner(turn, body=body, history=history, opening=early).start()
    # The runner's first frames come from the stream, after this yields: the bubble is first.
    hub.publish(conversation.pk, [turn_added_frame(turn)])
    if early is not None:
        early.claim(turn.pk)  # a retry of the request, shown on the bubble
    # The list of conversations is ordered by this, the reply is not.
    await conversations.bump(conversation)
    return turn


def _prepare(
    conversation: Conversation | None,
    user,
    user_input: list,
    model: str | None,
    background: bool,
    *,
    version_of: Turn | None,
    checked: bool,
    account,
    access: Callable[[], hot_reads.Access] | None,
) -> tuple[Turn, dict, bool, str | None, hot_reads.Mark]:
    """Sync, under the person's start lock: refuse a busy conversation or a message past the
    person's limits, else build the turn (unsaved, with the options it is sent with) and its
    request. Returns (turn, body, history, failure, mark): `failure` says why its files could
    not be sent; `history`, that the branch goes as history (the request is then built later);
    `mark`, the conversation's turns as read (hot_reads.Mark, for branches.followed)."""
    known = None  # the parent's row, if read with the access check (hot_reads.access)
    if access is not None:  # a socket's message: its conversation, owner and model as now
        found = access()
        conversation, busy, mark, known = found.conversation, found.busy, found.mark, found.parent
        user, model = conversation.owner, conversation.model
        account = Account.for_user(user)  # it came with the conversation
    else:
        assert conversation is not None
        # One query: whether a reply is running, and the branch on screen as it is now (the
        # caller's copy may predate another tab's switch).
        now = hot_reads.branch_and_busy(conversation.pk) or ({}, False, (0, None))
        conversation.branch, busy, mark = now
    assert model is not None
    if busy:
        raise ConversationBusy()
    if checked:  # checked before its files were stored; running replies may have begun since
        limits.check_budget(user)
    else:  # the rate is counted beside the request (_save): it may be a round trip to Redis
        limits.check_can_send(user, model, count=False)
    if version_of is None:
        parent_id = branches.next_parent(conversation, mark)
    else:
        parent_id = branches.fresh(conversation).parent.get(version_of.pk)
    turn = Turn(
        conversation=conversation, parent_id=parent_id, model=model, user_input=user_input,
        background=background or is_agent(model),
    )  # fmt: skip
    previous, chained_at = hot_reads.chained(parent_id, known)
    servers = []
    if (conversation.settings or {}).get("mcp_servers"):
        servers = list(McpServer.objects.filter(enabled=True))
    if account is None or account.user_id != conversation.owner_id:
        account = Account.objects.filter(user_id=conversation.owner_id).first()
    line = language.answer_line(account)
    body = build_request(conversation, turn, previous, mcp_servers=servers, answer_line=line)
    body = only_enabled(body)  # a function tool switched off since the settings were saved
    turn.request = public_request(body)
    if any(isinstance(b, dict) and "attachment" in b for b in turn.user_input):
        try:  # the files' bytes go inline; the turn keeps only references
            body["input"] = attachments.inline_input(conversation.owner_id, turn.user_input)
        except attachments.AttachmentError as exc:
            return turn, body, False, str(exc), mark
    # Imported turns have no interaction here to chain to, and a chain past its days upstream
    # would be refused: either way the branch goes as history.
    history = _expired(chained_at) or _after_import(previous, parent_id)
    return turn, body, history, None, mark


def _save(
    conversation: Conversation, turn: Turn, version_of: Turn | None, mark, *, count_for
) -> None:
    """Sync: the turn's INSERT (one write). `version_of`: the turn this one is a new version
    of (an edit, a regenerated answer), which then becomes the version on screen; a message
    that continues the branch on screen is its parent's only child, which the branch shows
    already. `count_for`: the person whose message rate this counts first (LimitReached: not
    saved, and the caller cancels the request)."""
    if count_for is not None:
        limits.check_rate(count_for)
    leases.stamp(turn)  # saved already owned: no other process may take it up
    turn.save()
    if version_of is None:  # `mark`: its conversation's turns before it (_prepare)
        branches.followed(conversation, mark, turn)
    else:  # the new version is on screen, drawn with its "N / M"
        shown = branches.pick(conversation, turn.pk, first=turn.parent_id is None)
        if shown is not None:
            branches.annotate(shown, [turn])


async def stop(conversation: Conversation) -> None:
    """Stop every reply running in this conversation, in this process or another."""
    unfinished = conversation.turns.exclude(status__in=Turn.FINAL)
    # Kept with the turns first: a process that takes one over later (its owner died before
    # this reached it) ends it instead of running it on (leases.adopt).
    await leases.request_stop(unfinished)
    for runner in hub.runners_for(conversation.pk):
        runner.stop()
    several = relay.enabled()
    if several:
        await hub.relay.stop_elsewhere(conversation.pk)
    # A turn still marked running that no process runs (a crash) is closed too: with one
    # process, any not running here; with several, those whose lease nobody renews.
    running = list(hub.runners)
    async for turn in unfinished.exclude(pk__in=running):
        if not several or await leases.take_over(turn.pk):
            await TurnRunner.end_stopped(turn)


# Saved turns are drawn off the event loop, one at a time for the whole process: a tab that
# catches up on hundreds of turns must not stall every other request.
_render_pool = ThreadPoolExecutor(1, thread_name_prefix="catch-up")


def _saved_frames(turn: Turn, whole: bool) -> list[str]:
    close_old_connections()  # this thread's own connection, as a request would
    if whole:
        return [turn_added_frame(turn)]
    return [assistant_frame(turn), status_frame(turn)]


async def _render_saved(turn: Turn, whole: bool) -> list[str]:
    return await sync_to_async(_saved_frames, thread_sensitive=False, executor=_render_pool)(
        turn, whole
    )


async def catch_up(conversation: Conversation, sub, known: list[int], after: int) -> None:
    """Bring a (re)connecting tab up to date: the turns it shows as unfinished, and turns created
    after the last one it has (another tab sent them while it was away).

    The tab is already subscribed, so anything published meanwhile reaches it too; a snapshot
    replaces the whole assistant part, so a delta it already got is never shown twice.
    """
    tree = await branches.aload(conversation)
    # New turns of the branch on screen only: another branch's turns are a click away.
    new = [pk for pk in tree.path() if pk > after]
    rows = [
        t
        async for t in conversation.turns.filter(Q(pk__in=known) | Q(pk__in=new)).order_by(
            "created_at", "pk"
        )[:MAX_CATCH_UP]
    ]
    branches.annotate(tree, rows)
    for turn in rows:
        whole = turn.pk > after
        runner = hub.runner(turn.pk)
        if runner is None and leases.left_running(turn):
            # Nobody holds its lease (its process died, or the server restarted): re-attach
            # here, by stream replay. Else its owner sends what it has so far.
            runner = await leases.adopt(turn.pk)
            if runner is None:
                remote = await hub.relay.request_snapshot(turn.pk, whole)
                if remote is not None:
                    frames, turn_id, seq = remote
                    sub.floors[turn_id] = seq
                    for frame in frames:
                        sub.put(frame)
                    continue
                # It ended meanwhile, or its owner is slow (or gone, its lease not run out
                # yet): show what is saved; the owner's frames follow, or this process
                # re-attaches once the lease runs out. Never a second runner while it holds.
                turn = await Turn.objects.aget(pk=turn.pk)
                turn.version = tree.version(turn.pk)
                runner = hub.runner(turn.pk)
                if runner is None and leases.left_running(turn):
                    leases.adopt_when_lapsed(turn)
        if runner is not None:
            runner.turn.version = tree.version(turn.pk)
            frames, _ = runner.snapshot(whole_turn=whole)
            frames += retry_notes.waiting(turn.pk)
        else:
            frames = await _render_saved(turn, whole)
        for frame in frames:
            sub.put(frame)
