"""Events for every open socket of one person, in every process: their sign-ins changed
(sessions.notify) or their list of conversations did (conversations.publish_sidebar, bump).

Sockets do not each join a channel-layer group for this. A group member costs each socket a
channel of its own, with a receive task and a queue — about 4 KiB of every idle socket (issue
16, item 4) — and channels_redis forgets members after a day, so a socket open longer would
miss a sign-out. Instead the hub keeps this process's sockets by person, and with several
processes the relay carries each event to the others (relay.py, "relay.person").
"""

from __future__ import annotations

from channels.layers import get_channel_layer

from . import relay
from .hub import hub


async def send(user_id: int, event: dict) -> None:
    """`event`: a consumer message ({"type": "session.check", …}), JSON-safe."""
    hub.tell_person(user_id, event)  # this process's sockets, at once
    if relay.enabled():
        await get_channel_layer().group_send(
            relay.GROUP,
            {"type": "relay.person", "origin": relay.PROCESS_ID, "user": user_id, "event": event},
        )
