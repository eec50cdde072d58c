"""All of a person's conversations in one ZIP: per conversation its JSON (which Import takes
back) and its Markdown, made by exports.py exactly as the single-conversation downloads.

Streamed: the archive is written one conversation at a time into a small buffer that is
handed out and emptied, so memory holds one conversation, never the whole archive. An async
iterator, because a sync one is read whole into memory before an ASGI server sends it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.utils import timezone
from django.utils.text import slugify

from . import exports
from .models import Conversation

FOLDER = "conversations"


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream: zipfile then writes data descriptors after each entry
    and never goes back, so what has been written can leave at once."""

    def __init__(self):
        self._parts: list[bytes] = []
        self._at = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._at += len(data)
        return len(data)

    def tell(self) -> int:
        return self._at

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def file_name(convo: Conversation) -> str:
    """`<id>-<title as a slug>`: unique (the id), readable, safe in any file system."""
    return f"{convo.pk}-{slugify(str(convo))[:60] or 'conversation'}"


def _entry(name: str, convo: Conversation) -> zipfile.ZipInfo:
    when = timezone.localtime(convo.updated_at) if convo.updated_at else timezone.localtime()
    info = zipfile.ZipInfo(f"{FOLDER}/{name}", date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _ids(user) -> list[int]:
    return list(Conversation.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True))


def _write_one(archive: zipfile.ZipFile, user, pk: int) -> None:
    convo = Conversation.objects.select_related("owner").filter(owner=user, pk=pk).first()
    if convo is None:
        return  # deleted while the download ran
    turns = list(convo.turns.order_by("created_at", "pk"))
    name = file_name(convo)
    archive.writestr(
        _entry(f"{name}.json", convo), exports.json_bytes(exports.conversation_json(convo, turns))
    )
    archive.writestr(
        _entry(f"{name}.md", convo), exports.conversation_markdown(convo, turns).encode()
    )


async def stream(user) -> AsyncIterator[bytes]:
    """The ZIP's bytes, a conversation at a time."""
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w")
    for pk in await sync_to_async(_ids)(user):
        await sync_to_async(_write_one)(archive, user, pk)
        if chunk := sink.take():
            yield chunk
    archive.close()  # the central directory
    yield sink.take()
