"""Deterministic prose: the words of replies, reports and summaries."""

from __future__ import annotations

import json
from typing import Any

from . import hostile, languages
from .plans import GenerationContext, TextBuilder

QUOTE_LIMIT = 280

SENTENCES = (
    "That is a good place to start, and there is plenty to say about it.",
    "Let me walk through it one piece at a time, so nothing gets lost along the way.",
    "The short version is that small, steady steps usually beat one heroic leap.",
    "It helps to name the goal first and only then pick the tools.",
    "Most problems like this one get easier once the moving parts are written down.",
    "A quick sketch on paper often settles questions that an hour of debate would not.",
    "The details matter, but the overall shape matters more at this stage.",
    "There is rarely a single right answer here; there are trade-offs worth seeing clearly.",
    "Good defaults go a long way, and they are easy to change later.",
    "If something feels unclear, that is usually a sign to simplify rather than to add.",
    "Think of it like tending a garden: a little attention every day keeps it healthy.",
    "Consistency tends to win over cleverness when other people have to read the result.",
    "It is worth checking the assumptions once more before building on top of them.",
    "A working example, even a rough one, teaches more than a perfect plan.",
    "The first draft only has to exist; the second draft is where it gets good.",
    "When in doubt, measure first and optimise second.",
    "Clear names and short functions do most of the heavy lifting in the long run.",
    "Every decision here can be revisited, so it is fine to choose and move on.",
    "Sometimes the best next step is simply to ask one more precise question.",
    "Writing the test before the fix makes the fix easier to trust.",
    "The quiet parts of a system, like logs and error messages, deserve care too.",
    "Small, reversible changes keep the risk low and the feedback fast.",
    "It is easier to add a feature later than to remove one people depend on.",
    "A calm, boring solution is often the most reliable one.",
)

BULLETS = (
    "**Start small**: get one path working end to end.",
    "**Write it down**: a short note now saves a long search later.",
    "**Check the edges**: empty inputs, long inputs and slow networks.",
    "**Keep it readable**: future you is also a reader.",
    "**Measure**: numbers settle arguments that opinions cannot.",
    "**Automate the boring parts**: let tools repeat what people forget.",
    "**Ask for feedback early**: a second pair of eyes is cheap.",
    "**Prefer plain words**: jargon hides mistakes.",
    "**Leave it tidy**: clean up as you go rather than at the end.",
    "**Plan for failure**: retries, timeouts and clear error messages.",
    "**Rest**: a fresh mind spots what a tired one misses.",
    "**Celebrate progress**: finished beats perfect.",
)

CLOSERS = (
    "I hope that helps — tell me more and I will keep going.",
    "Happy to dig deeper into any of these points.",
    "Let me know which part you would like to explore next.",
    "That should be enough to get moving; ask again whenever you like.",
    "Shall we take the next step together?",
)

EMULATOR_NOTE = "_(Offline emulator reply: the same conversation always gets the same words.)_"

FILLER_WORDS = " ".join(SENTENCES).split()
SENTENCE_STARTS = [
    sum(len(sentence.split()) for sentence in SENTENCES[:i]) for i in range(len(SENTENCES))
]


def quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > QUOTE_LIMIT:
        text = text[: QUOTE_LIMIT - 1].rstrip() + "…"
    return f"“{text}”"


def function_result_text(result: Any) -> str:
    """A function result as the model would quote it: text as is, objects as compact JSON."""
    if isinstance(result, str):
        text = result
    elif isinstance(result, list):
        texts = [
            block.get("text", "")
            for block in result
            if isinstance(block, dict) and block.get("type") == "text"
        ]
        text = " ".join(t for t in texts if isinstance(t, str)) if texts else json.dumps(result)
    else:
        text = json.dumps(result, ensure_ascii=False, separators=(", ", ": "))
    text = " ".join(text.split())
    if len(text) > QUOTE_LIMIT:
        text = text[: QUOTE_LIMIT - 1].rstrip() + "…"
    return text


def opening_text(ctx: GenerationContext) -> str:
    conversation = ctx.conversation
    opening = f"**Turn {conversation.turn}.**"
    results = conversation.function_results
    if not conversation.has_new_message and results:
        for step in results:
            name = s if isinstance(s := step.get("name"), str) else "the function"
            shown = hostile.text(name) if ctx.hostile else name
            value = function_result_text(step.get("result"))
            if step.get("is_error"):
                opening += f" `{shown}` reported an error: {value}."
            else:
                opening += f" I called `{shown}` and it answered. The result is {value}."
    elif not conversation.has_new_message:
        opening += " Thanks, I have what you sent back."
    elif conversation.current:
        opening += f" You said: {quote(conversation.current)}."
    else:
        opening += " You sent no text this time."
    if len(conversation.user_messages) > 1 or (
        conversation.user_messages and not conversation.has_new_message
    ):
        opening += f" Earlier you said: {quote(conversation.first)}."
    if conversation.attachments:
        opening += " You also shared: " + ", ".join(conversation.attachments) + "."
    system = ctx.request.get("system_instruction")
    if isinstance(system, str) and system.strip():
        opening += f" I am following your instructions: {quote(system)}."
    return opening


def compose_answer(ctx: GenerationContext) -> tuple[str, list[dict[str, Any]]]:
    """The model_output text and its annotations (byte offsets).

    Quotes the conversation, then one section per tool used (with its citations), then
    deterministic filler prose. With no tools this is exactly the emulator's classic reply.
    """
    if ctx.directives.echo is not None:
        return ctx.directives.echo, []
    if ctx.directives.words is not None:
        return filler_words(ctx.directives.words, ctx.rng("words").choice(SENTENCE_STARTS)), []
    language = languages.requested(ctx.request.get("system_instruction"))
    if language and not ctx.sections and not ctx.hostile:
        return languages.reply(language, quote(ctx.conversation.current or "")), []
    rng = ctx.rng("prose")
    opening = opening_text(ctx)
    paragraph = " ".join(rng.sample(SENTENCES, rng.randint(2, 3)))
    bullets = "\n".join(f"- {item}" for item in rng.sample(BULLETS, 3))
    closing = rng.choice(CLOSERS)
    builder = TextBuilder()
    builder.add(opening)
    for section in ctx.sections:
        builder.add("\n\n")
        for text, annotation in section:
            builder.add(text, annotation)
    if ctx.hostile:
        builder.add("\n\n" + hostile.MARKDOWN)
    builder.add(f"\n\n{paragraph}\n\n{bullets}\n\n{closing} {EMULATOR_NOTE}")
    return builder.text, builder.annotations


def reply_text(ctx: GenerationContext) -> str:
    """The model_output text: quotes the conversation, then deterministic filler prose."""
    return compose_answer(ctx)[0]


# A client asking for a conversation's title (chatsite/chat/titles.py) opens its system
# instruction with these words; the answer is a title made from the message, offline.
TITLE_REQUEST = "write a short title"
TITLE_WORDS = 6


def is_title_request(request: dict[str, Any]) -> bool:
    system = request.get("system_instruction")
    return isinstance(system, str) and system.strip().lower().startswith(TITLE_REQUEST)


def title_text(message: str) -> str:
    """The first words of the message (its directives already removed), as a title."""
    words = [w.strip(".,;:!?\"'“”()[]{}") for w in message.split()]
    words = [w for w in words if w][:TITLE_WORDS]
    if not words:
        return "New conversation"
    title = " ".join(words)
    return title[0].upper() + title[1:]


def filler_words(count: int, offset: int = 0) -> str:
    """Exactly ``count`` whitespace-separated words of prose, a paragraph break every 60."""
    if count <= 0:
        return ""
    size = len(FILLER_WORDS)
    words = [FILLER_WORDS[(offset + i) % size] for i in range(count)]
    for i in range(59, count - 1, 60):
        words[i] += "\n\n"
    return " ".join(words).replace("\n\n ", "\n\n")


def filler_chars(count: int) -> str:
    """Exactly ``count`` characters of prose (for one huge delta), ending in a space."""
    if count <= 0:
        return ""
    unit = " ".join(SENTENCES) + " "
    text = (unit * (count // len(unit) + 1))[:count]
    return text[:-1] + " "
