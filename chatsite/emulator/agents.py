"""Agent runs (``agent`` instead of ``model``): Deep Research and Antigravity.

Agents work slowly and visibly: each step waits a little before it starts (``StepPlan.delay``,
scaled by the run's pace), so a UI polling or streaming the interaction can show progress.

- ``deep-research-*``: thought summaries of progress, rounds of google_search call/result
  steps, then a long markdown report with url_citation annotations (``…-max-…`` does more
  rounds and writes more).
- ``antigravity-*``: a coding agent in a remote environment: it plans, runs real Python in a
  code_execution call/result pair, and reports.
- Any other agent: a thought, then the ordinary answer.
"""

from __future__ import annotations

from typing import Any

from . import hostile
from .plans import (
    GenerationContext,
    StepPlan,
    TextBuilder,
    chunk_words,
    short_id,
    signature,
    topic_of,
)
from .prose import SENTENCES, quote
from .tools import build_code, code_execution_steps, search_suggestions, tool_pair, web_sources

AGENT_PACE_MS = 6.0  # default delay between an agent's deltas (the `pace` directive overrides)


def agent_config(ctx: GenerationContext) -> dict[str, Any]:
    config = ctx.request.get("agent_config")
    return config if isinstance(config, dict) else {}


def summaries_on(ctx: GenerationContext) -> bool:
    return agent_config(ctx).get("thinking_summaries") != "none"


def thought(ctx: GenerationContext, salt: str, summary: str, delay: float) -> StepPlan:
    sig = signature(ctx, f"agent-thought:{salt}")
    final: dict[str, Any] = {"type": "thought"}
    deltas: list[dict[str, Any]] = []
    if summaries_on(ctx):
        if ctx.hostile:
            summary = f"{summary} {hostile.PAYLOAD}"
        deltas += [
            {"type": "thought_summary", "content": {"type": "text", "text": fragment}}
            for fragment in chunk_words(summary, 4)
        ]
        final["summary"] = [{"type": "text", "text": summary}]
    deltas.append({"type": "thought_signature", "signature": sig})
    final["signature"] = sig
    return StepPlan(start={"type": "thought"}, final=final, deltas=deltas, delay=delay)


def research_search(ctx: GenerationContext, round_no: int, query: str) -> list[StepPlan]:
    call_id = short_id(ctx, "search_", f"research:{round_no}")
    steps = tool_pair(
        "google_search_call",
        call_id,
        {"arguments": {}, "search_type": "web_search"},
        {"arguments": {"queries": [query]}, "signature": signature(ctx, f"dr-call:{round_no}", 48)},
        "google_search_result",
        {"result": []},
        {"result": [{"search_suggestions": search_suggestions([query], ctx.hostile)}]},
    )
    steps[0].delay = 0.4
    steps[1].delay = 0.2
    ctx.grounding["google_search"] = ctx.grounding.get("google_search", 0) + 1
    return steps


def _sentences(ctx: GenerationContext, salt: str, count: int) -> str:
    rng = ctx.rng(salt)
    return " ".join(rng.sample(SENTENCES, count))


def research_report(
    ctx: GenerationContext, topic: str, sources: list[dict], long: bool
) -> StepPlan:
    builder = TextBuilder()

    def cite(text: str, n: int) -> None:
        source = sources[n % len(sources)]
        builder.add(text, {"type": "url_citation", "url": source["url"], "title": source["title"]})

    title = hostile.text(topic) if ctx.hostile else topic
    builder.add(f"# {title}: a research report\n\n## Summary\n\n")
    cite(f"{topic} is a well-documented subject with a clear history.", 0)
    builder.add(" ")
    cite("Recent coverage shows steady change rather than sudden upheaval.", 1)
    builder.add(f" {_sentences(ctx, 'dr-summary', 2)}\n\n## Background\n\n")
    builder.add(_sentences(ctx, "dr-background", 4) + " ")
    cite(f"Most sources agree on the basic facts about {topic}.", 0)
    builder.add("\n\n## Key findings\n\n")
    findings = (
        ("Start small", f"The most successful efforts around {topic} began with a narrow scope."),
        ("Measure", "Teams that measured outcomes early corrected course sooner."),
        ("Explain", "Clear explanations mattered as much as the technical choices."),
        ("Iterate", "Improvements arrived in many small steps, not one big release."),
    )
    for i, (head, text) in enumerate(findings[: 4 if long else 3]):
        builder.add(f"{i + 1}. **{head}.** ")
        cite(text, i + 1)
        builder.add("\n")
    builder.add("\n## Analysis\n\n")
    for n in range(4 if long else 3):
        builder.add(_sentences(ctx, f"dr-analysis:{n}", 6) + "\n\n")
    builder.add("## Open questions\n\n")
    builder.add(f"- How will {topic} change over the next few years?\n")
    builder.add("- Which of the findings above hold in other settings?\n")
    builder.add("- What would a small, low-risk experiment look like?\n\n")
    if ctx.hostile:
        builder.add(hostile.MARKDOWN + "\n\n")
    builder.add("## Sources\n\n")
    for i, source in enumerate(sources):
        builder.add(f"{i + 1}. ")
        cite(f"[{source['title']}]({source['url']})", i)
        builder.add("\n")
    text = builder.text
    block: dict[str, Any] = {"type": "text", "text": text, "annotations": builder.annotations}
    return StepPlan(
        start={"type": "model_output"},
        final={"type": "model_output", "content": [block]},
        text_chunks=chunk_words(text, ctx.directives.delta_words),
        deltas=[{"type": "text_annotation_delta", "annotations": builder.annotations}],
        main=True,
        middle=len(chunk_words(text, ctx.directives.delta_words)) // 2,
        delay=0.3,
    )


def deep_research_family(ctx: GenerationContext) -> list[StepPlan]:
    long = "-max-" in ctx.agent or ctx.agent.endswith("-max")
    message = ctx.message or ctx.conversation.current
    topic = topic_of(message)
    queries = [
        f"{topic} overview",
        f"{topic} latest developments",
        f"{topic} criticism and open questions",
        f"{topic} case studies",
    ][: 4 if long else 3]
    steps = [
        thought(
            ctx,
            "plan",
            f"**Planning the research.** The request is {quote(message)}. I will search for "
            f"background, recent developments and open questions about {topic}, then write a "
            "structured report with sources.",
            0.4,
        )
    ]
    for n, query in enumerate(queries):
        steps.append(thought(ctx, f"search:{n}", f"**Searching.** Looking for “{query}”.", 0.25))
        steps += research_search(ctx, n, query)
    sources = web_sources(ctx, topic, "research", 5 if long else 4)
    steps.append(
        thought(
            ctx,
            "read",
            f"**Reading {len(sources)} sources.** They broadly agree; the news coverage adds "
            "recent details and the guides add practical advice.",
            0.5,
        )
    )
    steps.append(
        thought(
            ctx,
            "write",
            "**Writing the report.** Summary first, then findings with citations, analysis "
            "and open questions.",
            0.3,
        )
    )
    steps.append(research_report(ctx, topic, sources, long))
    ctx.tool_use_words += 600 * len(sources)
    return steps


def antigravity_family(ctx: GenerationContext) -> list[StepPlan]:
    message = ctx.message or ctx.conversation.current
    environment = ctx.request.get("environment")
    where = "the remote environment" if environment else "a fresh sandbox"
    steps = [
        thought(
            ctx,
            "setup",
            f"**Setting up.** Working in {where}. The task is {quote(message)}; I will write a "
            "small program, run it and report what it shows.",
            0.4,
        )
    ]
    code = build_code(ctx, message)
    tool_steps, execution = code_execution_steps(ctx, code, "antigravity")
    tool_steps[0].delay = 0.4
    tool_steps[1].delay = 0.3
    steps += tool_steps
    steps.append(thought(ctx, "review", "**Reviewing the output.** The program ran.", 0.3))
    output = execution.output.rstrip("\n")
    outcome = "failed" if execution.is_error else "succeeded"
    text = (
        f"**Done.** I worked on {quote(message)} in {where}. I wrote a short Python program "
        f"for it, ran it, and it {outcome}. Its output:\n\n```text\n{output}\n```\n\n"
        f"{_sentences(ctx, 'ag-close', 2)}"
    )
    if ctx.hostile:
        text += "\n\n" + hostile.MARKDOWN
    chunks = chunk_words(text, ctx.directives.delta_words)
    steps.append(
        StepPlan(
            start={"type": "model_output"},
            final={"type": "model_output", "content": [{"type": "text", "text": text}]},
            text_chunks=chunks,
            main=True,
            middle=len(chunks) // 2,
            delay=0.2,
        )
    )
    ctx.tool_use_words += len(execution.output.split())
    return steps


def agent_code_jobs(ctx: GenerationContext) -> list[str]:
    if ctx.agent.startswith("antigravity"):
        return [build_code(ctx, ctx.message or ctx.conversation.current)]
    return []


def generic_agent_family(ctx: GenerationContext) -> list[StepPlan]:
    from .generator import model_output_family

    steps = [thought(ctx, "generic", f"**Working on it.** {quote(ctx.conversation.current)}", 0.4)]
    outputs = model_output_family(ctx)
    for step in outputs:
        step.delay = 0.2
    return steps + outputs


def agent_steps(ctx: GenerationContext) -> list[StepPlan]:
    if ctx.agent.startswith("deep-research"):
        return deep_research_family(ctx)
    if ctx.agent.startswith("antigravity"):
        return antigravity_family(ctx)
    return generic_agent_family(ctx)


__all__ = ["AGENT_PACE_MS", "agent_code_jobs", "agent_steps"]
