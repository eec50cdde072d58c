"""Conversations and their turns, keyed by the Interactions API's interaction ids.

A Turn keeps the user's input and the steps exactly as the API returned them; everything a page
shows is rendered from those steps, so nothing is lost when the renderer improves.
"""

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Conversation(models.Model):
    class TitleBy(models.TextChoices):
        MESSAGE = "", "first message"  # provisional, until the model writes one
        MODEL = "model"
        PERSON = "person"  # renamed: never retitled

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    title_by = models.CharField(max_length=10, blank=True, default="", choices=TitleBy.choices)
    pinned = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    # A read-only snapshot link `/s/<token>/`: the turns up to `shared_at`. Stop sharing
    # clears both; sharing again makes a new token.
    share_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    shared_at = models.DateTimeField(null=True, blank=True)
    model = models.CharField(max_length=100, help_text="Model or agent the next turn uses.")
    settings = models.JSONField(
        default=dict, blank=True, help_text="Interaction-scoped settings, re-sent every turn."
    )
    # The version on screen at each fork: {"<parent turn id>" or "root": chosen child's id}.
    # A fork without an entry shows its latest child (chat/branches.py).
    branch = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Not a field: "today" on a sidebar entry in the list's "Today" group
    # (conversations.sidebar_groups), which a tab's live moves land in.
    group_key = ""
    # Not a field: False on a conversation created by this request, not in any tab's list yet.
    listed = True

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self):
        return self.title or f"Conversation {self.pk}"

    def get_absolute_url(self):
        return reverse("conversation", args=[self.pk])


class Turn(models.Model):
    """One exchange: the user's input and the interaction that answered it."""

    class Status(models.TextChoices):
        PENDING = "pending"  # saved, request not sent yet
        QUEUED = "queued"
        IN_PROGRESS = "in_progress"
        REQUIRES_ACTION = "requires_action"
        REQUIRES_CONTINUATION = "requires_continuation"
        COMPLETED = "completed"
        INCOMPLETE = "incomplete"
        FAILED = "failed"
        CANCELLED = "cancelled"
        BUDGET_EXCEEDED = "budget_exceeded"

    # Statuses after which nothing more will happen to the turn.
    FINAL = frozenset({"completed", "incomplete", "failed", "cancelled", "budget_exceeded"})
    # Set on a live turn by its runner, never saved: the steps shown so far by element index
    # and those still streaming (read through getattr by the templates).
    steps_by_index: dict[int, dict] | None
    live_indices: set[int]
    # Set by chat.branches, never saved: the turn's place among its versions ("N / M").
    version: Any

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    interaction_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    status = models.CharField(max_length=32, default=Status.PENDING, db_index=True)
    model = models.CharField(max_length=100, blank=True)
    user_input = models.JSONField(
        default=list, help_text="The Content blocks the user sent, as sent to the API."
    )
    steps = models.JSONField(default=list, blank=True, help_text="Steps exactly as received.")
    usage = models.JSONField(default=dict, blank=True)
    error = models.JSONField(null=True, blank=True)
    # Where an interrupted stream resumes (`last_event_id`), saved with each finished step.
    last_event_id = models.CharField(max_length=255, blank=True)
    # The create body's options this turn was sent with (model or agent, tools, config; never
    # the input or any secret header), so the page can show e.g. a structured answer as JSON.
    request = models.JSONField(default=dict, blank=True)
    # Earlier interactions of this reply when it was continued (`requires_continuation`);
    # `interaction_id` is the last one, which the next turn chains to.
    continuation_ids = models.JSONField(default=list, blank=True)
    # Structured output: each answer's verdict against the schema (chat/structured.py), checked
    # once when the answer stopped and only read by pages, keyed by a digest of its text.
    schema_verdicts = models.JSONField(default=dict, blank=True)
    background = models.BooleanField(default=False)
    # Written once when the turn ends, for admin search and usage reports.
    search_text = models.TextField(blank=True, default="")
    total_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Which process runs the reply, until when (renewed while it runs; see chat/leases.py).
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When Stop was pressed on it: kept, so a process that takes the reply over from a dead
    # owner ends it instead of re-attaching (chat/leases.py).
    stop_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self):
        return f"Turn {self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    def refresh_search_text(self) -> None:
        """The user's words and the model's answer text, for admin search."""
        answer = [
            block.get("text", "")
            for step in self.steps
            if isinstance(step, dict) and step.get("type") == "model_output"
            for block in step.get("content") or []
            if isinstance(block, dict) and block.get("type") == "text"
        ]
        self.search_text = "\n".join([self.user_text, *answer])[:200_000]
        total = (self.usage or {}).get("total_tokens")
        self.total_tokens = total if isinstance(total, int) and total > 0 else 0

    @property
    def user_text(self) -> str:
        return "\n".join(
            block.get("text", "")
            for block in self.user_input
            if isinstance(block, dict) and block.get("type") == "text"
        )


def interaction_ids(turns) -> list[str]:
    """Every interaction id these turns hold upstream (continuation hops included), e.g. to
    delete them there. `turns`: a Turn queryset."""
    ids: list[str] = []
    for interaction_id, continued in turns.values_list("interaction_id", "continuation_ids"):
        ids += [i for i in [*(continued or []), interaction_id] if isinstance(i, str) and i]
    return ids


class SharedConversation(Conversation):
    """A conversation with a live share link: the admin's list of them (admin.py)."""

    class Meta:
        proxy = True
        verbose_name = "shared conversation"


class TranscriptRead(models.Model):
    """Every time someone opens another person's conversation in the admin: who, whose, when."""

    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transcript_reads"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, null=True, on_delete=models.SET_NULL, related_name="reads"
    )
    conversation_title = models.CharField(max_length=200, blank=True)
    what = models.CharField(max_length=40, default="transcript")  # transcript, json, search, …
    detail = models.CharField(max_length=200, blank=True)  # the search words, the media item
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{self.reader} read {self.owner}'s “{self.conversation_title}” ({self.what})"


class Invite(models.Model):
    """A sign-up link an admin hands out; it works even when open sign-up is off."""

    token = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invites_made"
    )
    note = models.CharField(max_length=200, blank=True, help_text="Who it is for.")
    expires_at = models.DateTimeField()
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="invite",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.note or f"Invite {self.pk}"

    def save(self, *args, **kwargs):
        if not self.token:
            self.token = secrets.token_urlsafe(24)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("invite", args=[self.token])

    @property
    def usable(self) -> bool:
        return self.used_by_id is None and self.expires_at > timezone.now()


class SignInIdentity(models.Model):
    """A person's account at a single sign-on provider: the provider's `sub`, never the e-mail,
    says who signs in (e-mails change hands; a subject is the provider's promise)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_in_identities"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    email = models.EmailField(blank=True)  # as last seen, for the admin; not used to match
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_identity")
        ]

    def __str__(self):
        return f"{self.subject} @ {self.issuer}"


def _attachment_path(instance, filename):
    # Content-addressed: the same file uploaded twice is stored once per owner.
    return f"attachments/{instance.owner_id}/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    """A file a person attached to a message, stored under its SHA-256."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments"
    )
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=_attachment_path, max_length=255)
    name = models.CharField(max_length=255, help_text="The file's name as uploaded.")
    mime_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=20)  # image, audio, video, document
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256"], name="one_file_per_owner_hash")
        ]

    def __str__(self):
        return f"{self.name} ({self.mime_type})"


class FunctionTool(models.Model):
    """A server-side Python tool (chatsite/chat/tools) that admins switch on for everyone."""

    name = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class McpServer(models.Model):
    """A remote MCP server admins configure; its URL and headers never reach a browser."""

    name = models.SlugField(
        max_length=64, unique=True, help_text="Shown to people; sent as the tool name."
    )
    url = models.URLField(max_length=500)
    headers = models.JSONField(
        default=dict, blank=True, help_text="Sent with every call, e.g. an Authorization header."
    )
    allowed_tools = models.JSONField(
        default=list, blank=True, help_text="Tool names people may use; empty for all."
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "MCP server"

    def __str__(self):
        return self.name


class ModelPrice(models.Model):
    """What a model costs, per million tokens of each kind, for the admin's cost estimates."""

    model = models.CharField(max_length=100, unique=True)
    input_per_million = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    output_per_million = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    thinking_per_million = models.DecimalField(max_digits=10, decimal_places=4, default=0)

    class Meta:
        ordering = ["model"]

    def __str__(self):
        return self.model


class Review(models.Model):
    """An admin's review of one conversation: reviewed by whom and when, a flag with its reason,
    private notes. Never shown to the conversation's owner (no chat page reads this model)."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="review"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    reviewed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    flagged = models.BooleanField(default=False, db_index=True)
    flag_reason = models.CharField(max_length=500, blank=True)
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Review of {self.conversation_id}"


class Lease(models.Model):
    """A named job that one process at a time runs (the daily purge), until `expires_at`."""

    name = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name


class Account(models.Model):
    """A person's own preferences, set on `/accounts/settings/`. Created on first save; a person
    without one gets the defaults (`Account.for_user`)."""

    class Theme(models.TextChoices):
        SYSTEM = "system", "System"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account"
    )
    # A code from settings.LANGUAGES, or "" to follow the browser's Accept-Language.
    language = models.CharField(max_length=10, blank=True, default="")
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.SYSTEM)
    # Model or agent for new conversations; "" means the site default (GEMINI_MODEL).
    default_model = models.CharField(max_length=100, blank=True, default="")
    # Adds "Answer in <language> unless asked otherwise" to the system instruction.
    answer_in_language = models.BooleanField(default=True)

    def __str__(self):
        return f"Account of {self.user}"

    @classmethod
    def for_user(cls, user) -> "Account":
        """The saved account, or an unsaved one with the defaults (never a write on a read)."""
        try:
            return user.account
        except cls.DoesNotExist:
            return cls(user=user)
