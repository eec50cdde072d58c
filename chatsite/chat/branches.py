"""Versions of a conversation: turns with the same parent turn are versions of one another.

The branch on screen runs from the first turn down, taking at each fork the child the person
chose last (Conversation.branch), else the latest one. Everything that walks a conversation —
the page and its pagination, catch-up on reconnect, the parent of the next message, the
history sent when the chain is gone — asks this module, so they all agree.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from . import hot_reads
from .models import Conversation, Turn

ROOT = "root"
FIRSTS = "first"  # the versions of the first message after the first one
# The path on screen when the conversation was shared: its snapshot link shows that branch,
# whatever version its owner looks at later.
SHARED = "shared"


def _key(parent_id: int | None) -> str:
    return ROOT if parent_id is None else str(parent_id)


@dataclass(frozen=True)
class Version:
    """Where a turn stands among its versions: the n-th of m, and its neighbours."""

    n: int
    m: int
    previous: int | None
    next: int | None


class Tree:
    """A conversation's turns as (id, parent id) only: one small query, whatever its length."""

    def __init__(self, pairs, choice: dict | None):
        self.choice = choice or {}
        self.parent: dict[int, int | None] = {}
        self.children: dict[int | None, list[int]] = defaultdict(list)
        firsts = set(self.choice.get(FIRSTS) or ())
        before = None
        for pk, parent_id in pairs:  # oldest first
            # Only a new version of the first message has no parent. A turn saved without one
            # otherwise (imported, or older than versions) follows the turn before it; so does
            # one whose parent is gone.
            if parent_id is None or parent_id not in self.parent:
                parent_id = None if pk in firsts else before
            self.parent[pk] = parent_id
            self.children[parent_id].append(pk)
            before = pk

    def path(self) -> list[int]:
        """The turns on screen, first to last."""
        out: list[int] = []
        node: int | None = None
        while self.children.get(node) and len(out) <= len(self.parent):
            kids = self.children[node]
            wanted = self.choice.get(_key(node))
            node = wanted if wanted in kids else kids[-1]
            out.append(node)
        return out

    def version(self, pk: int) -> Version | None:
        """None when the turn has no other version."""
        kids = self.children.get(self._parent_of(pk)) or [pk]
        if len(kids) < 2 or pk not in kids:
            return None
        i = kids.index(pk)
        previous = kids[i - 1] if i > 0 else None
        following = kids[i + 1] if i + 1 < len(kids) else None
        return Version(i + 1, len(kids), previous, following)

    def _parent_of(self, pk: int) -> int | None:
        return self.parent.get(pk)

    def ancestors(self, pk: int) -> list[int]:
        """The turns before `pk` on its own branch, first to last."""
        out: list[int] = []
        node = self._parent_of(pk)
        while node is not None and len(out) <= len(self.parent):
            out.append(node)
            node = self._parent_of(node)
        return out[::-1]

    def choosing(self, pk: int) -> dict:
        """The choice that puts `pk` (and so its ancestors) on screen."""
        choice = dict(self.choice)
        node: int | None = pk
        while node is not None and node in self.parent:
            choice[_key(self._parent_of(node))] = node
            node = self._parent_of(node)
        return choice


def _pairs(conversation_id: int):
    return Turn.objects.filter(conversation_id=conversation_id).order_by("created_at", "pk")


def load(conversation: Conversation) -> Tree:
    return Tree(list(_pairs(conversation.pk).values_list("pk", "parent_id")), conversation.branch)


def load_fresh(conversation_id: int, *, first: int | None = None) -> Tree:
    """The tree with the choice read afresh (a socket's conversation object outlives another
    tab's switch). `first`: a turn just saved as a new version of the first message."""
    choice = (
        Conversation.objects.filter(pk=conversation_id).values_list("branch", flat=True).first()
    ) or {}
    if first is not None:
        choice = {**choice, FIRSTS: [*choice.get(FIRSTS, ()), first]}
    return Tree(list(_pairs(conversation_id).values_list("pk", "parent_id")), choice)


async def aload(conversation: Conversation, *, first: int | None = None) -> Tree:
    return await sync_to_async(load_fresh)(conversation.pk, first=first)


def fresh(conversation: Conversation) -> Tree:
    """The tree on the conversation's choice as loaded, its turns read now."""
    return Tree(hot_reads.tree_pairs(conversation.pk), conversation.branch)


# conversation id → (the mark of its turns, its choice, the parent of its next message): a
# conversation's whole tree is read once, not for every message (each would cost its length).
_next: OrderedDict[int, tuple[hot_reads.Mark, str, int | None]] = OrderedDict()
_next_lock = threading.Lock()
NEXT_KEPT = 2048  # conversations; about 200 bytes each


def next_parent(conversation: Conversation, mark: hot_reads.Mark) -> int | None:
    """The turn a new message in this conversation follows: the last one on screen. `mark`:
    its turns' mark read with the choice (hot_reads), so a turn added or removed anywhere, by
    any process, or another choice, reads the tree again."""
    choice = json.dumps(conversation.branch or {}, sort_keys=True)
    with _next_lock:
        known = _next.get(conversation.pk)
        if known is not None and known[:2] == (mark, choice):
            _next.move_to_end(conversation.pk)
            return known[2]
    path = fresh(conversation).path()
    parent = path[-1] if path else None
    _remember(conversation.pk, (mark, choice, parent))
    return parent


def likely_parent(conversation_id) -> int | None:
    """The parent next_parent last gave for this conversation, whatever has changed since: a
    guess for hot_reads.access to read beside its checks (services.socket_access)."""
    with _next_lock:
        known = _next.get(conversation_id)
    return None if known is None else known[2]


def followed(conversation: Conversation, mark: hot_reads.Mark, turn: Turn) -> None:
    """`turn`, just saved after the last turn on screen (next_parent read with `mark`), is now
    the last one on screen: the next message follows it without reading the tree."""
    choice = json.dumps(conversation.branch or {}, sort_keys=True)
    count, last = mark
    with _next_lock:
        known = _next.get(conversation.pk)
        if known is None or known != (mark, choice, turn.parent_id) or (last or 0) >= turn.pk:
            return
    _remember(conversation.pk, ((count + 1, turn.pk), choice, turn.pk))


def _remember(conversation_id: int, entry) -> None:
    with _next_lock:
        _next[conversation_id] = entry
        _next.move_to_end(conversation_id)
        while len(_next) > NEXT_KEPT:
            _next.popitem(last=False)


def of_turns(conversation: Conversation, turns) -> Tree:
    """The tree of turns already fetched (all of the conversation's, oldest first)."""
    return Tree([(t.pk, t.parent_id) for t in turns], conversation.branch)


def with_shared_path(conversation: Conversation) -> dict:
    """The conversation's choice, with the branch on screen now kept as the shared one."""
    return {**(conversation.branch or {}), SHARED: load(conversation).path()}


def shared_tree(conversation: Conversation) -> Tree:
    """The turns as they were when the conversation was shared."""
    rows = _pairs(conversation.pk).filter(created_at__lte=conversation.shared_at)
    return Tree(list(rows.values_list("pk", "parent_id")), conversation.branch)


def shared_path(conversation: Conversation) -> list[int]:
    """The branch a snapshot shows: the one on screen when it was shared (for a link made
    before that was kept, the branch on screen now, as far as it went then)."""
    stored = (conversation.branch or {}).get(SHARED)
    if isinstance(stored, list):
        return [pk for pk in stored if isinstance(pk, int)]
    return shared_tree(conversation).path()


def annotate(tree: Tree, turns) -> list[Turn]:
    """Each turn learns its place among its versions (the page's "N / M")."""
    for turn in turns:
        turn.version = tree.version(turn.pk)
    return list(turns)


def page(conversation: Conversation, size: int, *, before=None, showing=None):
    """A page of the branch on screen, oldest first, and whether it has earlier turns: the
    latest `size` turns, those before turn `before`, or from turn `showing` to the end."""
    tree = load(conversation)
    path = tree.path()
    end = len(path)
    if before is not None:
        end = path.index(before) if before in path else 0
    start = max(0, end - size)
    if showing in path:
        start = min(start, path.index(showing))
    ids = path[start:end]
    rows = {t.pk: t for t in conversation.turns.filter(pk__in=ids)}
    return annotate(tree, [rows[pk] for pk in ids if pk in rows]), start > 0


def pick(conversation: Conversation, turn_id: int, *, first=False) -> Tree | None:
    """Put turn `turn_id` on screen (and keep it there across reloads and tabs); the tree, or
    None when it is not a turn of this conversation. `first`: it is a new version of the first
    message."""
    tree = load_fresh(conversation.pk, first=turn_id if first else None)
    if turn_id not in tree.parent:
        return None
    conversation.branch = tree.choosing(turn_id)
    # Not .save(): choosing a version is not activity that reorders the conversation list.
    Conversation.objects.filter(pk=conversation.pk).update(branch=conversation.branch)
    return tree


async def choose(conversation: Conversation, turn_id: int) -> Tree | None:
    return await sync_to_async(pick)(conversation, turn_id)
