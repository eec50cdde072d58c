"""The composer: one message plus the conversation's settings, validated in one place.

Field names follow the UI contract in design.md (`model`, `system_instruction`,
`thinking_level`, `thinking_summaries`, `max_output_tokens`, `tools`).
"""

import json
import re

from django import forms
from django.conf import settings
from jsonschema import SchemaError
from jsonschema.validators import validator_for

from chatsite import safeschema

from .models import FunctionTool, McpServer

API_TOOLS = [
    ("google_search", "Google Search"),
    ("code_execution", "Code execution"),
    ("url_context", "URL context"),
    ("google_maps", "Google Maps"),
]
THINKING_LEVELS = [("", "Default"), ("minimal", "Minimal"), ("low", "Low"), ("medium", "Medium"),
                   ("high", "High"), ("xhigh", "Extra high")]  # fmt: skip
THINKING_SUMMARIES = [("", "Default"), ("auto", "Show summaries"), ("none", "No summaries")]
ASPECT_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
IMAGE_SIZES = ["512", "1K", "2K", "4K"]
VOICES = ["Kore", "Puck", "Charon", "Fenrir", "Aoede", "Leda", "Orus", "Zephyr"]

# What a conversation remembers between turns (interaction-scoped: re-sent every turn).
SETTING_FIELDS = (
    "system_instruction", "thinking_level", "thinking_summaries", "max_output_tokens", "tools",
    "file_search_stores", "functions", "mcp_servers", "response_schema", "aspect_ratio",
    "image_size", "voice",
)  # fmt: skip
MAX_SCHEMA_CHARS = 20_000
# A schema is the person's own code run on every answer: bounded before it is accepted.
MAX_SCHEMA_BYTES = 20_000
MAX_SCHEMA_DEPTH = 32  # JSON nesting (an object's property's schema is two levels down)


# The API refuses MCP server names with "-" (its guide asks for snake_case names).
MCP_NAME = re.compile(r"[A-Za-z0-9_]+")
# Agents take no generation_config: these settings do nothing for them.
AGENTS_IGNORE = ("thinking_level", "max_output_tokens", "aspect_ratio", "image_size", "voice")


def is_agent(name: str) -> bool:
    return name in settings.GEMINI_AGENTS


def agent_ignores(name: str) -> tuple[str, ...]:
    """The composer settings this agent ignores (Deep Research alone takes thought summaries,
    in its agent_config)."""
    if not is_agent(name):
        return ()
    return AGENTS_IGNORE + (() if name.startswith("deep-research") else ("thinking_summaries",))


def valid_mcp_name(name: str) -> bool:
    return bool(MCP_NAME.fullmatch(name or ""))


class ComposerForm(forms.Form):
    message = forms.CharField(required=False, strip=True)  # services.clean_message checks it
    model = forms.ChoiceField(label="Model", required=False)
    # Present when the settings panel was posted; a post without it (a script, the socket)
    # keeps the conversation's settings as they are.
    settings_form = forms.BooleanField(required=False, widget=forms.HiddenInput)
    background = forms.BooleanField(required=False, label="Run in background")

    system_instruction = forms.CharField(
        required=False,
        max_length=20_000,
        label="System instruction",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "How Gemini should answer in this conversation"}
        ),
    )
    thinking_level = forms.ChoiceField(required=False, choices=THINKING_LEVELS, label="Thinking")
    thinking_summaries = forms.ChoiceField(
        required=False, choices=THINKING_SUMMARIES, label="Thought summaries"
    )
    max_output_tokens = forms.IntegerField(
        required=False, min_value=1, max_value=1_000_000, label="Max output tokens"
    )
    tools = forms.MultipleChoiceField(
        required=False, choices=API_TOOLS, widget=forms.CheckboxSelectMultiple, label="Tools"
    )
    file_search_stores = forms.CharField(
        required=False, max_length=2000, label="File search stores",
        help_text="Store names, separated by commas (fileSearchStores/…).",
    )  # fmt: skip
    functions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Functions"
    )
    mcp_servers = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="MCP servers"
    )
    response_schema = forms.CharField(
        required=False,
        max_length=MAX_SCHEMA_CHARS,
        label="Structured output (JSON Schema)",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": '{"type": "object", "properties": {…}}'}
        ),
    )
    aspect_ratio = forms.ChoiceField(
        required=False, choices=[("", "Default"), *[(r, r) for r in ASPECT_RATIOS]],
        label="Aspect ratio",
    )  # fmt: skip
    image_size = forms.ChoiceField(
        required=False,
        choices=[("", "Default"), *[(s, s) for s in IMAGE_SIZES]],
        label="Image size",
    )
    voice = forms.ChoiceField(
        required=False, choices=[("", "Default"), *[(v, v) for v in VOICES]], label="Voice"
    )

    def __init__(self, *args, functions=(), mcp_servers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [
            ("Models", [(m, m) for m in settings.GEMINI_MODELS]),
            ("Agents", [(a, a) for a in settings.GEMINI_AGENTS]),
        ]
        self.fields["functions"].choices = [(f, f) for f in functions]
        self.fields["mcp_servers"].choices = [(m, m) for m in mcp_servers]

    @classmethod
    def for_conversation(cls, conversation=None, data=None, files=None):
        """The form with the site's enabled tools, filled from the conversation's settings."""
        from .tools import REGISTRY

        functions = [
            t.name for t in FunctionTool.objects.filter(enabled=True) if t.name in REGISTRY
        ]
        servers = [
            name
            for name in McpServer.objects.filter(enabled=True).values_list("name", flat=True)
            if valid_mcp_name(name)
        ]
        initial = {"model": settings.GEMINI_MODEL}
        if conversation is not None:
            initial = {"model": conversation.model, **(conversation.settings or {})}
        return cls(data, files, initial=initial, functions=functions, mcp_servers=servers)

    def agent_notes(self) -> dict[str, str]:
        """Per agent, the sentence the settings panel shows: which of them it ignores."""
        notes = {}
        for name in settings.GEMINI_AGENTS:
            labels = [str(self.fields[f].label) for f in agent_ignores(name)]
            if labels:
                listed = ", ".join(labels[:-1]) + " and " if len(labels) > 1 else ""
                notes[name] = f"This agent ignores {listed}{labels[-1]}."
        return notes

    def agent_note(self) -> str:
        return self.agent_notes().get(self["model"].value() or "", "")

    def get_initial_for_field(self, field, field_name):
        value = super().get_initial_for_field(field, field_name)
        if field_name == "response_schema" and isinstance(value, dict):
            return json.dumps(value, indent=2)
        if field_name == "file_search_stores" and isinstance(value, list):
            return ", ".join(value)
        return value

    def clean_file_search_stores(self):
        raw = self.cleaned_data["file_search_stores"]
        names = [n.strip() for n in raw.split(",") if n.strip()]
        if len(names) > 10:
            raise forms.ValidationError("At most 10 file search stores.")
        return names

    def clean_response_schema(self):
        raw = self.cleaned_data["response_schema"].strip()
        if not raw:
            return None
        size = len(raw.encode())
        if size > MAX_SCHEMA_BYTES:
            raise forms.ValidationError(
                f"The schema is {size:,} bytes; the limit is {MAX_SCHEMA_BYTES:,}."
            )
        try:
            schema = safeschema.loads(raw, max_depth=MAX_SCHEMA_DEPTH)
        except safeschema.TooDeep as exc:
            raise forms.ValidationError(f"The schema is too deeply nested: {exc}.") from None
        except ValueError as exc:
            raise forms.ValidationError(f"The schema is not valid JSON: {exc}.") from None
        if not isinstance(schema, dict):
            raise forms.ValidationError("The schema must be a JSON object.")
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            raise forms.ValidationError(
                f"That is not a valid JSON Schema: {exc.message}."
            ) from None
        except RecursionError:  # a pattern's groups nested thousands deep
            raise forms.ValidationError("The schema is too deeply nested.") from None
        return schema

    def clean(self):
        data = super().clean()
        if not data.get("model"):
            data["model"] = self.initial.get("model") or settings.GEMINI_MODEL
        if is_agent(data["model"]):
            data["background"] = True  # agents always run in the background
        return data

    def conversation_settings(self) -> dict:
        """What to remember on the conversation (only what was set); without the panel in the
        post, the settings the conversation already had."""
        if not self.cleaned_data.get("settings_form"):
            return {k: v for k, v in self.initial.items() if k in SETTING_FIELDS}
        return {k: self.cleaned_data[k] for k in SETTING_FIELDS if self.cleaned_data.get(k)}

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            label = self.fields[field].label if field in self.fields else ""
            return f"{label}: {errors[0]}" if label and field != "__all__" else str(errors[0])
        return ""
