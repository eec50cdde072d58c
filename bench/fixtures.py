"""Database set-up through the app's own models (the bench process shares the app's database).

Synchronous Django ORM code: call it before a run, or through `sync_to_async`, never while a
scenario is measuring.
"""

from __future__ import annotations

import base64
import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from chatsite.chat.models import Conversation, Turn

PASSWORD = "bench-pass-phrase-31"


def make_user(username: str):
    User = get_user_model()  # noqa: N806
    user = User.objects.filter(username=username).first()
    return user or User.objects.create_user(username, password=PASSWORD)


def make_conversations(user, count: int, title: str = "bench") -> list[int]:
    """Conversations already titled (as by their person): a new conversation's title request,
    once per conversation, and its list update are not part of any reply the bench measures —
    and would land in the window of the next reply measured."""
    rows = [
        Conversation(
            owner=user,
            title=f"{title} {i}",
            title_by=Conversation.TitleBy.PERSON,
            model=settings.GEMINI_MODEL,
            settings={},
        )  # fmt: skip
        for i in range(count)
    ]
    return [c.pk for c in Conversation.objects.bulk_create(rows, batch_size=500)]


def people(prefix: str, n: int, conversations_each: int) -> list[tuple[str, list[int]]]:
    """N people (no password: they are signed in directly), each with a session cookie and
    their own conversations: [(cookie, [conversation ids])]. Streams of a team are its people's,
    each watched by its own person's tab: one person with hundreds of tabs would make every
    reply's start a sidebar update for all of them."""
    User = get_user_model()  # noqa: N806
    User.objects.filter(username__startswith=f"{prefix}-").delete()
    users = User.objects.bulk_create(
        [User(username=f"{prefix}-{i}", password="!") for i in range(n)], batch_size=500
    )
    return [
        (session_cookie(user), make_conversations(user, conversations_each, prefix))
        for user in users
    ]


def session_cookie(user) -> str:
    """A signed-in session for `user`, as the Cookie header value a browser would send."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


def model_text(steps) -> str:
    return "".join(
        block.get("text", "")
        for step in steps or []
        if isinstance(step, dict) and step.get("type") == "model_output"
        for block in step.get("content", [])
        if isinstance(block, dict) and block.get("type") == "text"
    )


def turns_by_id(ids: list[int]) -> dict[int, Turn]:
    return {t.pk: t for t in Turn.objects.filter(pk__in=ids)}


# -- realistic stored turns for the page-render scenario ------------------------------------------

ANSWER = """**Turn {i}.** Here is a way to set up the deployment you described, step by step, with
the parts that usually go wrong called out so you can check them before going live.

The short version: keep one settings file, read every knob from the environment, and run the
database migrations before the new code takes traffic. That order matters more than any tool.

- **Configuration**: put `DATABASE_URL` and `SECRET_KEY` in the service's environment.
- **Migrations**: run them once per release, from one machine, before restarting workers.
- **Static files**: build them at image time so a restart never waits on them.
- **Health checks**: point the load balancer at a view that touches the database.

```python
def healthcheck(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({{"ok": True, "turn": {i}}})
```

With that in place, a rollback is just the previous image and the same environment. If you
want, I can sketch the systemd unit or the container file next, number {i} in this series."""

THOUGHT = (
    "**Planning the answer.** The user asks about deployment number {i}; I will give the order "
    "of operations first, then a short checklist and one code example."
)


def realistic_steps(i: int) -> list[dict]:
    signature = base64.b64encode(hashlib.sha256(f"sig{i}".encode()).digest() * 3).decode()
    return [
        {
            "type": "user_input",
            "content": [{"type": "text", "text": f"How do I deploy this? ({i})"}],
        },
        {
            "type": "thought",
            "signature": signature,
            "summary": [{"type": "text", "text": THOUGHT.format(i=i)}],
        },
        {"type": "model_output", "content": [{"type": "text", "text": ANSWER.format(i=i)}]},
    ]


def make_page_conversation(user, turns: int, label: str) -> int:
    """A conversation of `turns` completed turns, written directly to the database."""
    conversation = Conversation.objects.create(
        owner=user, title=f"page {label}", model=settings.GEMINI_MODEL, settings={}
    )
    now = timezone.now()
    rows = [
        Turn(
            conversation=conversation,
            interaction_id=f"v1_bench_{conversation.pk}_{i}",
            status="completed",
            model=settings.GEMINI_MODEL,
            user_input=[{"type": "text", "text": f"How do I deploy this? ({i})"}],
            steps=realistic_steps(i),
            usage={"total_input_tokens": 40, "total_output_tokens": 260, "total_tokens": 300},
            last_event_id="00000012",
            completed_at=now,
        )
        for i in range(turns)
    ]
    Turn.objects.bulk_create(rows, batch_size=500)
    return conversation.pk


def words_in_answer() -> int:
    return len(ANSWER.split())
