"""Which function tools are switched on (admins flip `FunctionTool.enabled`).

Only those are sent to the model and only those run: a conversation may still list a tool an
admin has since switched off, a model may name a function it was not offered, and a tool may be
switched off while a reply is running — each time the call gets an error result instead.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async

from .registry import REGISTRY


def enabled_names() -> set[str]:
    """The names of the function tools switched on that this version has."""
    from chatsite.chat.models import FunctionTool

    names = FunctionTool.objects.filter(enabled=True).values_list("name", flat=True)
    return {name for name in names if name in REGISTRY}


async def enabled() -> set[str]:
    return await sync_to_async(enabled_names)()


def only_enabled(body: dict) -> dict:
    """The create body without the function tools that are switched off."""
    tools = body.get("tools") or ()
    if not any(isinstance(t, dict) and t.get("type") == "function" for t in tools):
        return body
    on = enabled_names()
    kept = [t for t in tools if t.get("type") != "function" or t.get("name") in on]
    rest = {k: v for k, v in body.items() if k != "tools"}
    return {**rest, "tools": kept} if kept else rest
