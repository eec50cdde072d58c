"""Carries hub traffic between processes through the channel layer (Redis in production).

With one process (the in-memory layer) this is off and costs nothing. With several, every
process joins one group and:

- sends what its runners publish as *one batched message per flush interval* — never one
  message per delta, which is what saturates a Redis channel layer (design.md, "Measured facts");
- and only for conversations that a tab on another process watches: each process announces the
  conversations it has tabs for ("watch"/"unwatch", re-announced every minute and answered to a
  newcomer's "hello"), so a reply nobody elsewhere reads costs Redis nothing. A reply's first
  seconds, and a process's own first seconds, are relayed regardless: a tab whose "watch" is
  still on its way gets them, and one that connects later asks for a snapshot anyway;
- answers snapshot requests for the turns it runs, so a tab connected to another process sees
  the reply so far (frames carry a per-turn sequence number; the asking tab ignores relayed
  frames the snapshot already contains, so no text is doubled);
- stops its runners when Stop is pressed on a tab connected elsewhere;
- carries events for all of one person's sockets (person_events.py) to the other processes.

Which process runs a turn is settled by its lease (leases.py), not here.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

GROUP = "chatsite.relay"
PROCESS_ID = uuid.uuid4().hex[:12]
SNAPSHOT_TIMEOUT = 2.0
REJOIN_EVERY = 3600.0  # group membership expires (channels_redis: a day); renew well before
ANNOUNCE_EVERY = 60.0  # re-announce what we watch; a process that died stops being counted
WATCH_EXPIRES = 3 * ANNOUNCE_EVERY


def enabled() -> bool:
    if not settings.CHATSITE_RELAY:
        return False
    layer = get_channel_layer()
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


class Relay:
    def __init__(self, hub):
        self.hub = hub
        self.loop: asyncio.AbstractEventLoop | None = None
        self.channel: str | None = None
        self._batch: list = []
        self._outbox: asyncio.Queue | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._waiting: dict[str, asyncio.Future] = {}
        self._tasks: list[asyncio.Task] = []
        # conversation id → {other process id: loop time of its last word that it watches}
        self.watchers: dict[int, dict[str, float]] = {}
        self.started = 0.0

    # -- lifecycle (one listener per event loop: tests run many loops, servers one) ---------
    async def ensure_running(self) -> bool:
        if not enabled():
            return False
        loop = asyncio.get_running_loop()
        if self.loop is loop and self.channel is not None:
            return True
        self.loop = loop
        self._batch = []
        self._timer = None
        self._waiting = {}
        self._outbox = asyncio.Queue()
        self.watchers = {}
        self.started = loop.time()
        from . import leases

        layer = get_channel_layer()
        # The default prefix, as the sockets' channels have: channels_redis lets one receive
        # per process at a time wait on Redis, on the key of *its* channel's prefix, and hands
        # what arrives to the other channels of that key. A channel with its own prefix would
        # block every socket of the process (and they it) until a message came for it.
        self.channel = await layer.new_channel()
        await layer.group_add(GROUP, self.channel)
        self._tasks = [
            loop.create_task(self._listen(layer, self.channel), name="relay-listen"),
            loop.create_task(self._send_batches(layer), name="relay-send"),
            loop.create_task(self._announce_periodically(), name="relay-announce"),
            # Several processes: pick up the replies of one that died (chat/leases.py).
            leases.background(leases.watch(), "lease-watch"),
        ]
        # Who watches what: everyone tells us (and learns what our tabs watch).
        self._send({"type": "relay.hello", "watching": self.hub.watched()})
        return True

    def _active(self) -> bool:
        try:
            return self.channel is not None and asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    # -- who watches what ------------------------------------------------------------------
    def local_watch(self, conversation_id: int, watching: bool) -> None:
        """A conversation got its first tab here, or lost its last one."""
        if self._active():
            kind = "relay.watch" if watching else "relay.unwatch"
            self._send({"type": kind, "conversations": [conversation_id]})

    def watched_elsewhere(self, conversation_id: int) -> bool:
        assert self.loop is not None  # _active
        seen = self.watchers.get(conversation_id)
        if not seen:
            return False
        now = self.loop.time()
        for process, at in list(seen.items()):
            if now - at > WATCH_EXPIRES:
                del seen[process]
        return bool(seen)

    def _in_grace(self, turn_id) -> bool:
        """Relayed regardless: our first seconds (we may not have heard every process yet) and
        a reply's first seconds (a tab's "watch" may be on its way). Frames of no turn (a turn
        added, a title) are few: always."""
        assert self.loop is not None  # _active
        grace = settings.RELAY_UNWATCHED_GRACE_S
        now = self.loop.time()
        if turn_id is None or now - self.started < grace:
            return True
        runner = self.hub.runner(turn_id)
        return runner is None or now - runner.started_at < grace

    async def _announce_periodically(self) -> None:
        while True:
            await asyncio.sleep(ANNOUNCE_EVERY)
            if watched := self.hub.watched():
                self._send({"type": "relay.watch", "conversations": watched})

    def _on_watch(self, message: dict) -> None:
        assert self.loop is not None  # set before the listener starts
        origin, now = message["origin"], self.loop.time()
        for conversation_id in message.get("watching") or message.get("conversations") or []:
            if message["type"] == "relay.unwatch":
                self.watchers.get(conversation_id, {}).pop(origin, None)
            else:
                self.watchers.setdefault(conversation_id, {})[origin] = now

    def _send(self, message: dict) -> None:
        assert self._outbox is not None  # _active, or ensure_running just set it
        self._outbox.put_nowait({**message, "origin": PROCESS_ID})

    # -- outgoing --------------------------------------------------------------------------
    def enqueue(self, conversation_id: int, frames: list[str], turn_id, seq) -> None:
        """Called synchronously by hub.publish; sends within one flush interval."""
        if not self._active():
            return
        if not self.watched_elsewhere(conversation_id) and not self._in_grace(turn_id):
            return  # nobody elsewhere reads it
        self._batch.append([conversation_id, turn_id, seq, frames])
        if self._timer is None:
            assert self.loop is not None  # _active: it is the running loop
            delay = max(settings.STREAM_FLUSH_MS, 5) / 1000
            self._timer = self.loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._timer = None
        if self._batch:
            items, self._batch = self._batch, []
            assert self._outbox is not None  # set with the loop that runs this timer
            self._outbox.put_nowait({"type": "relay.frames", "origin": PROCESS_ID, "items": items})

    async def _send_batches(self, layer) -> None:
        # One sender, in order: two batches in flight at once could arrive swapped.
        assert self._outbox is not None  # set before this task starts, never unset
        while True:
            message = await self._outbox.get()
            try:
                await layer.group_send(GROUP, message)
            except Exception:
                log.warning("relay: could not send a batch", exc_info=True)

    async def stop_elsewhere(self, conversation_id: int) -> None:
        if await self.ensure_running():
            await get_channel_layer().group_send(
                GROUP,
                {"type": "relay.stop", "origin": PROCESS_ID, "conversation": conversation_id},
            )

    async def request_snapshot(self, turn_id: int, whole_turn: bool):
        """Ask the process running `turn_id` for its frames so far. None: nobody answered."""
        if not await self.ensure_running():
            return None
        request_id = uuid.uuid4().hex
        assert self.loop is not None  # ensure_running set it
        future = self.loop.create_future()
        self._waiting[request_id] = future
        await get_channel_layer().group_send(
            GROUP,
            {
                "type": "relay.snapshot_request",
                "origin": PROCESS_ID,
                "turn": turn_id,
                "whole_turn": whole_turn,
                "reply_to": self.channel,
                "request_id": request_id,
            },
        )
        try:
            return await asyncio.wait_for(future, SNAPSHOT_TIMEOUT)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request_id, None)

    # -- incoming --------------------------------------------------------------------------
    async def _listen(self, layer, channel) -> None:
        assert self.loop is not None  # set before this task starts, never unset
        rejoined = self.loop.time()
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relay: receive failed (%r); retrying", exc)
                await asyncio.sleep(1)
                continue
            if self.loop.time() - rejoined > REJOIN_EVERY:
                await layer.group_add(GROUP, channel)
                rejoined = self.loop.time()
            try:
                await self._dispatch(layer, message)
            except Exception:
                log.exception("relay: could not handle %s", message.get("type"))

    async def _dispatch(self, layer, message: dict) -> None:
        kind = message.get("type")
        if kind == "relay.snapshot":
            future = self._waiting.get(message.get("request_id", ""))
            if future is not None and not future.done():
                future.set_result((message["frames"], message["turn"], message["seq"]))
            return
        if message.get("origin") == PROCESS_ID:
            return  # our own broadcast
        if kind == "relay.frames":
            for conversation_id, turn_id, seq, frames in message["items"]:
                self.hub.deliver_relayed(conversation_id, frames, turn_id, seq)
        elif kind in ("relay.watch", "relay.unwatch", "relay.hello"):
            self._on_watch(message)
            if kind == "relay.hello" and (watched := self.hub.watched()):
                self._send({"type": "relay.watch", "conversations": watched})
        elif kind == "relay.person":
            self.hub.tell_person(message["user"], message["event"])
        elif kind == "relay.stop":
            for runner in self.hub.runners_for(message["conversation"]):
                runner.stop()
        elif kind == "relay.snapshot_request":
            runner = self.hub.runner(message["turn"])
            if runner is not None:
                frames, seq = runner.snapshot(whole_turn=message.get("whole_turn", False))
                await layer.send(
                    message["reply_to"],
                    {
                        "type": "relay.snapshot",
                        "request_id": message["request_id"],
                        "turn": message["turn"],
                        "frames": frames,
                        "seq": seq,
                    },
                )
