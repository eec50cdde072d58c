"""The composer: one message plus the conversation's settings, validated in one place.

Field names follow the UI contract in design.md (`model`, `system_instruction`,
`thinking_level`, `thinking_summaries`, `max_output_tokens`, `tools`).
"""

import json
import re

from django import forms
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.translation import gettext_lazy as _
from jsonschema import SchemaError
from jsonschema.validators import validator_for

from chatsite import safeschema

from .models import Account, FunctionTool, McpServer

API_TOOLS = [
    ("google_search", _("Google Search")),
    ("code_execution", _("Code execution")),
    ("url_context", _("URL context")),
    ("google_maps", _("Google Maps")),
]
THINKING_LEVELS = [
    ("", _("Default")), ("minimal", _("Minimal")), ("low", _("Low")), ("medium", _("Medium")),
    ("high", _("High")), ("xhigh", _("Extra high")),
]  # fmt: skip
THINKING_SUMMARIES = [
    ("", _("Default")),
    ("auto", _("Show summaries")),
    ("none", _("No summaries")),
]
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
    model = forms.ChoiceField(label=_("Model"), required=False)
    # Present when the settings panel was posted; a post without it (a script, the socket)
    # keeps the conversation's settings as they are.
    settings_form = forms.BooleanField(required=False, widget=forms.HiddenInput)
    background = forms.BooleanField(required=False, label=_("Run in background"))

    system_instruction = forms.CharField(
        required=False,
        max_length=20_000,
        label=_("System instruction"),
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": _("How Gemini should answer in this conversation"),
                "dir": "auto",
            }
        ),
    )
    thinking_level = forms.ChoiceField(required=False, choices=THINKING_LEVELS, label=_("Thinking"))
    thinking_summaries = forms.ChoiceField(
        required=False, choices=THINKING_SUMMARIES, label=_("Thought summaries")
    )
    max_output_tokens = forms.IntegerField(
        required=False, min_value=1, max_value=1_000_000, label=_("Max output tokens")
    )
    tools = forms.MultipleChoiceField(
        required=False, choices=API_TOOLS, widget=forms.CheckboxSelectMultiple, label=_("Tools")
    )
    file_search_stores = forms.CharField(
        required=False, max_length=2000, label=_("File search stores"),
        help_text=_("Store names, separated by commas (fileSearchStores/…)."),
    )  # fmt: skip
    functions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label=_("Functions")
    )
    mcp_servers = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label=_("MCP servers")
    )
    response_schema = forms.CharField(
        required=False,
        max_length=MAX_SCHEMA_CHARS,
        label=_("Structured output (JSON Schema)"),
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": '{"type": "object", "properties": {…}}'}
        ),
    )
    aspect_ratio = forms.ChoiceField(
        required=False, choices=[("", _("Default")), *[(r, r) for r in ASPECT_RATIOS]],
        label=_("Aspect ratio"),
    )  # fmt: skip
    image_size = forms.ChoiceField(
        required=False,
        choices=[("", _("Default")), *[(s, s) for s in IMAGE_SIZES]],
        label=_("Image size"),
    )
    voice = forms.ChoiceField(
        required=False, choices=[("", _("Default")), *[(v, v) for v in VOICES]], label=_("Voice")
    )

    def __init__(self, *args, functions=(), mcp_servers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [
            (_("Models"), [(m, m) for m in settings.GEMINI_MODELS]),
            (_("Agents"), [(a, a) for a in settings.GEMINI_AGENTS]),
        ]
        self.fields["functions"].choices = [(f, f) for f in functions]
        self.fields["mcp_servers"].choices = [(m, m) for m in mcp_servers]

    @classmethod
    def for_conversation(cls, conversation=None, data=None, files=None, *, user=None):
        """The form with the site's enabled tools, filled from the conversation's settings
        (a new conversation: the person's default model)."""
        from .tools import REGISTRY

        functions = [
            t.name for t in FunctionTool.objects.filter(enabled=True) if t.name in REGISTRY
        ]
        servers = [
            name
            for name in McpServer.objects.filter(enabled=True).values_list("name", flat=True)
            if valid_mcp_name(name)
        ]
        initial = {"model": default_model_for(user)}
        if conversation is not None:
            initial = {"model": conversation.model, **(conversation.settings or {})}
        return cls(data, files, initial=initial, functions=functions, mcp_servers=servers)

    def agent_notes(self) -> dict[str, str]:
        """Per agent, the sentence the settings panel shows: which of them it ignores."""
        notes = {}
        for name in settings.GEMINI_AGENTS:
            labels = [str(self.fields[f].label) for f in agent_ignores(name)]
            if labels:
                if len(labels) > 1:
                    listed = _("%(some)s and %(last)s") % {
                        "some": ", ".join(labels[:-1]), "last": labels[-1],
                    }  # fmt: skip
                else:
                    listed = labels[-1]
                notes[name] = _("This agent ignores %(settings)s.") % {"settings": listed}
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
            raise forms.ValidationError(_("At most 10 file search stores."))
        return names

    def clean_response_schema(self):
        raw = self.cleaned_data["response_schema"].strip()
        if not raw:
            return None
        size = len(raw.encode())
        if size > MAX_SCHEMA_BYTES:
            raise forms.ValidationError(
                _("The schema is %(size)s bytes; the limit is %(limit)s.")
                % {"size": intcomma(size), "limit": intcomma(MAX_SCHEMA_BYTES)}
            )
        try:
            schema = safeschema.loads(raw, max_depth=MAX_SCHEMA_DEPTH)
        except safeschema.TooDeep as exc:
            raise forms.ValidationError(
                _("The schema is too deeply nested: %(problem)s.") % {"problem": exc}
            ) from None
        except ValueError as exc:
            raise forms.ValidationError(
                _("The schema is not valid JSON: %(problem)s.") % {"problem": exc}
            ) from None
        if not isinstance(schema, dict):
            raise forms.ValidationError(_("The schema must be a JSON object."))
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            raise forms.ValidationError(
                _("That is not a valid JSON Schema: %(problem)s.") % {"problem": exc.message}
            ) from None
        except RecursionError:  # a pattern's groups nested thousands deep
            raise forms.ValidationError(_("The schema is too deeply nested.")) from None
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


def default_model_for(user) -> str:
    """The model or agent a new conversation of this person starts with: their account's choice
    while the site still offers it, else the site's default."""
    choice = Account.for_user(user).default_model if user and user.is_authenticated else ""
    offered = choice in settings.GEMINI_MODELS or choice in settings.GEMINI_AGENTS
    return choice if offered else settings.GEMINI_MODEL


class AccountForm(forms.ModelForm):
    """The person's preferences on `/accounts/settings/` (the password has Django's own form)."""

    language = forms.ChoiceField(required=False, label=_("Language"))
    theme = forms.ChoiceField(
        label=_("Theme"),
        choices=[("system", _("Same as the system")), ("light", _("Light")), ("dark", _("Dark"))],
    )
    default_model = forms.ChoiceField(required=False, label=_("Model for new conversations"))
    answer_in_language = forms.BooleanField(
        required=False,
        label=_("Answer in my language"),
        help_text=_("Asks the model to answer in the language chosen above, unless you ask "
                    "otherwise."),
    )  # fmt: skip

    class Meta:
        model = Account
        fields = ["language", "theme", "default_model", "answer_in_language"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Each language in its own name: someone lost in a foreign interface finds theirs.
        self.fields["language"].choices = [("", _("The browser's language")), *settings.LANGUAGES]
        self.fields["default_model"].choices = [
            ("", _("Site default (%(model)s)") % {"model": settings.GEMINI_MODEL}),
            (_("Models"), [(m, m) for m in settings.GEMINI_MODELS]),
            (_("Agents"), [(a, a) for a in settings.GEMINI_AGENTS]),
        ]
