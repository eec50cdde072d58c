"""What the admin browser tests look at, written into the app's database by `manage.py shell`:
grace's agent report (headings, code, math, a search) and two weeks of turns for grace and
linus."""

from datetime import timedelta

REPORT = """# Green tea: a research report

## Summary

Green tea is steamed or pan-fired soon after picking, so it stays green.

## Background

The energy of a cup is small: $E = mc^2$ does not help here, but
$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$ does, for the sake of an example.

### Key findings

1. **Start small.** Brew at 75 °C.
2. **Measure.** Three minutes at most.

```python
def brew(minutes: int) -> str:
    return "bitter" if minutes > 3 else "fine"
```

> Quoted from a source.

| Kind | Temperature |
|------|-------------|
| Sencha | 75 °C |
"""

STEPS = [
    {"type": "thought", "summary": [{"type": "text", "text": "**Planning.** Search, then read."}]},
    {"type": "google_search_call", "id": "c1", "arguments": {"queries": ["how is green tea made"]}},
    {
        "type": "google_search_result",
        "call_id": "c1",
        "result": [{"title": "Tea processing", "url": "https://example.com/tea"}],
    },
    {"type": "thought", "summary": [{"type": "text", "text": "**Writing.** The report."}]},
    {"type": "model_output", "content": [{"type": "text", "text": REPORT}]},
]


AGENT = "deep-research-pro-preview-12-2025"
FLASH = "gemini-3-flash-preview"


def usage(tokens: int) -> dict:
    kinds = {
        "total_input_tokens": tokens,
        "total_output_tokens": tokens // 2,
        "total_thought_tokens": tokens // 4,
    }
    return {**kinds, "total_tokens": sum(kinds.values())}


def turn(conversation, **fields):
    from chatsite.chat.models import Turn

    made = Turn.objects.create(conversation=conversation, status="completed", **fields)
    made.refresh_search_text()
    made.save()
    return made


def seed() -> None:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from chatsite.chat.models import Conversation, ModelPrice, Turn

    # People of their own: the other browser tests' users keep their conversation lists.
    grace = User.objects.get_or_create(username="grace")[0]
    linus = User.objects.get_or_create(username="linus")[0]
    report = Conversation.objects.create(owner=grace, title="Green tea report", model=AGENT)
    text = [{"type": "text", "text": "How is green tea made?"}]
    turn(report, model=AGENT, interaction_id="v1_admin_report", user_input=text, steps=STEPS,
         usage=usage(1200))  # fmt: skip
    prices = {FLASH: (0.5, 3, 3), AGENT: (2, 12, 12)}
    for model, (i, o, t) in prices.items():
        ModelPrice.objects.get_or_create(
            model=model,
            defaults={"input_per_million": i, "output_per_million": o, "thinking_per_million": t},
        )
    now = timezone.now()
    for day in range(14):
        for who, count in ((grace, day % 4 + 1), (linus, (day * 3) % 5)):
            conversation = Conversation.objects.create(owner=who, title=f"day {day}", model=FLASH)
            for k in range(count):
                made = turn(conversation, model=FLASH, usage=usage(400 + 150 * k + 90 * day))
                Turn.objects.filter(pk=made.pk).update(created_at=now - timedelta(days=day))
    print(report.pk)
