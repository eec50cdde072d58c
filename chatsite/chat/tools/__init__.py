"""Server-side function tools the model may call (admins switch them on: ``FunctionTool``).

Importing this package registers the built-in tools. The API:

- ``declarations(names)``: the ``function`` tools to send in a create request;
- ``await call(name, arguments, timeout=..., allowed=...)``: run a ``function_call`` step,
  returning ``{"result": ..., "is_error": bool}`` (never raises);
- ``function_result_step(call_step, outcome)``: the ``function_result`` step to send back;
- ``await enabled()`` / ``only_enabled(body)`` (sync): the tools admins switched on (switches.py);
- ``@tool(name, description, parameters)``: register another tool.
"""

from . import builtin  # noqa: F401  (registers the built-in tools)
from .registry import (
    DEFAULT_TIMEOUT,
    REGISTRY,
    Tool,
    ToolError,
    call,
    declarations,
    function_result_step,
    tool,
    unregister,
)
from .switches import enabled, only_enabled

BUILTIN_TOOLS = ("calculator", "convert_units", "current_time")

__all__ = [
    "BUILTIN_TOOLS",
    "DEFAULT_TIMEOUT",
    "REGISTRY",
    "Tool",
    "ToolError",
    "call",
    "declarations",
    "enabled",
    "function_result_step",
    "only_enabled",
    "tool",
    "unregister",
]
