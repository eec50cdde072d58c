"""A person's data, for the admin: everything of theirs as one ZIP (conversations as JSON and
Markdown, their attachments), and the audit entries of exporting or deleting it."""

from __future__ import annotations

import io
import json
import zipfile

from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from .exports import conversation_json, conversation_markdown, json_bytes
from .models import Attachment, Conversation, TranscriptRead


def export_zip(person) -> bytes:
    out = io.BytesIO()
    conversations = Conversation.objects.filter(owner=person).order_by("pk")
    attachments = Attachment.objects.filter(owner=person).order_by("pk")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        index = {
            "username": person.get_username(),
            "email": getattr(person, "email", ""),
            "date_joined": person.date_joined.isoformat() if person.date_joined else None,
            "exported_at": timezone.now().isoformat(),
            "conversations": [],
            "attachments": [],
        }
        for conversation in conversations:
            turns = list(conversation.turns.all())
            stem = f"conversations/{conversation.pk}"
            archive.writestr(f"{stem}.json", json_bytes(conversation_json(conversation, turns)))
            archive.writestr(f"{stem}.md", conversation_markdown(conversation, turns))
            index["conversations"].append({"id": conversation.pk, "title": str(conversation)})
        for attachment in attachments:
            path = f"attachments/{attachment.sha256}"
            stored: str | None = path
            try:
                with attachment.file.open("rb") as source:
                    archive.writestr(path, source.read())
            except OSError:
                stored = None  # the file is gone from storage: say so, export the rest
            index["attachments"].append({"name": attachment.name, "mime_type": attachment.mime_type,
                                         "sha256": attachment.sha256, "path": stored})  # fmt: skip
        archive.writestr("person.json", json.dumps(index, ensure_ascii=False, indent=2))
    return out.getvalue()


def log_export(reader, person) -> None:
    """One read-log entry per conversation exported (like any other read of it)."""
    TranscriptRead.objects.bulk_create(
        [
            TranscriptRead(
                reader=reader,
                owner=person,
                conversation=c,
                conversation_title=str(c)[:200],
                what="person-export",
                detail="everything of this person (ZIP)",
            )  # fmt: skip
            for c in Conversation.objects.filter(owner=person)
        ]
    )


def log_deletion(admin_user, person, summary: str) -> None:
    """The admin's own log: it outlives the person (no foreign key to them)."""
    LogEntry.objects.create(
        user=admin_user,
        content_type=ContentType.objects.get_for_model(person),
        object_id=str(person.pk),
        object_repr=person.get_username()[:200],
        action_flag=DELETION,
        change_message=f"Deleted with all their data: {summary}",
    )
