"""The composer: one message plus the conversation's settings, validated in one place.

Field names follow the UI contract in design.md (`model`, `system_instruction`,
`thinking_level`, `thinking_summaries`, `max_output_tokens`, `tools`).
"""

import json
import re

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
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


# The composer's one-line summary: a chip per setting that is on. "{}" is the value's label,
# "{l}" the same in lower case (translations keep both as they are).
# Rendered here for the page and as `data-chip` on each field, which composer.js reads to redraw
# the chips live: the words live in this one place.
CHIPS = {
    "system_instruction": _("Instructions"),
    "thinking_level": _("Thinking: {l}"),
    "thinking_summaries": "{}",
    "max_output_tokens": _("Max {} tokens"),
    "file_search_stores": _("File search"),
    "response_schema": "JSON",
    "aspect_ratio": "{}",
    "image_size": "{}",
    "voice": _("Voice: {}"),
    "functions": "{}",
    "mcp_servers": _("MCP: {}"),
}
TOOL_CHIPS = {"google_search": _("Search"), "code_execution": _("Code"),
              "url_context": _("URLs"), "google_maps": _("Maps")}  # fmt: skip
# The panel's order (and the chips'): everyday settings first; ADVANCED go under "Advanced".
ADVANCED = ("file_search_stores", "response_schema", "mcp_servers")
PANEL_ORDER = (
    "tools", "system_instruction", "thinking_level", "thinking_summaries", "max_output_tokens",
    "aspect_ratio", "image_size", "voice", "functions", *ADVANCED,
)  # fmt: skip
NOT_FOR_AGENTS = _("Not used by agents")


def chip_words(template: str, label: str) -> str:
    return template.replace("{}", label).replace("{l}", label.lower())


class ChipCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes whose every box carries its own chip's words (`data-chip`)."""

    def __init__(self, *args, chips=None, template="{}", **kwargs):
        super().__init__(*args, **kwargs)
        self.chips, self.template = chips or {}, template

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        words = str(self.chips.get(value) or "") or chip_words(self.template, str(label))
        option["attrs"] = {**option["attrs"], "data-chip": words}
        return option


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
        required=False, min_value=1, max_value=1_000_000, label=_("Max output tokens"),
        error_messages={
            "invalid": _("Write a whole number of tokens, like 2000."),
            "min_value": _("Allow at least 1 token."),
            "max_value": _("At most 1,000,000 tokens."),
        },
    )  # fmt: skip
    tools = forms.MultipleChoiceField(
        required=False, choices=API_TOOLS, widget=ChipCheckboxes(chips=TOOL_CHIPS), label=_("Tools")
    )
    file_search_stores = forms.CharField(
        required=False, max_length=2000, label=_("File search stores"),
        help_text=_("Store names, separated by commas (fileSearchStores/…)."),
    )  # fmt: skip
    functions = forms.MultipleChoiceField(
        required=False, widget=ChipCheckboxes(template=CHIPS["functions"]), label=_("Functions")
    )
    mcp_servers = forms.MultipleChoiceField(
        required=False,
        widget=ChipCheckboxes(template=CHIPS["mcp_servers"]),
        label=_("MCP servers"),
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
        for name, words in CHIPS.items():
            if name not in ("functions", "mcp_servers"):
                self.fields[name].widget.attrs["data-chip"] = words

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

    def agent_ignores(self) -> dict[str, list[str]]:
        """Per agent, the fields it ignores (composer.js marks them when one is chosen)."""
        return {name: list(agent_ignores(name)) for name in settings.GEMINI_AGENTS}

    def ignored(self) -> tuple[str, ...]:
        """The fields the model now chosen ignores."""
        return agent_ignores(self["model"].value() or "")

    def chips(self) -> list[dict]:
        """The summary of what is on, in the panel's order: [{"text", "field", "ignored"}]."""
        ignored = self.ignored()
        chips = []
        for name in PANEL_ORDER:
            bound = self[name]
            value = bound.value()
            if name in ("tools", "functions", "mcp_servers"):
                for box in bound:
                    if box.data["selected"]:
                        chips.append((name, box.data["attrs"]["data-chip"]))
            elif value not in (None, "", [], {}):
                choices = dict(getattr(self.fields[name], "choices", ()))
                chips.append((name, chip_words(str(CHIPS[name]), str(choices.get(value, value)))))
        return [{"text": t, "field": f, "ignored": f in ignored} for f, t in chips]

    def everyday(self) -> list:
        """The panel's everyday fields (tools and the like are laid out apart)."""
        apart = ("tools", "functions", *ADVANCED)
        return [self[name] for name in PANEL_ORDER if name not in apart]

    def setting_fields(self) -> list:
        return [self[name] for name in SETTING_FIELDS]

    def advanced(self) -> list:
        return [self[name] for name in ADVANCED if name != "mcp_servers"]

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
        except json.JSONDecodeError as exc:
            # Where, in words: the parser's own sentence ("Expecting value: line 1 column 1
            # (char 0)") means little to a person.
            raise forms.ValidationError(
                _(
                    "The schema is not valid JSON: check line %(line)s, near character "
                    "%(column)s (quotes, commas and braces)."
                )
                % {"line": exc.lineno, "column": exc.colno}
            ) from None
        except ValueError:
            raise forms.ValidationError(_("The schema is not valid JSON.")) from None
        if not isinstance(schema, dict):
            raise forms.ValidationError(
                _('The schema must be a JSON object, like {"type": "object", "properties": {…}}.')
            )
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            where = " › ".join(str(p) for p in exc.path)
            advice = _(
                "It should follow json-schema.org (for example, “type” is one of object, "
                "array, string, number, integer, boolean or null)."
            )
            if where:
                problem = _("That is not a valid JSON Schema: look at “%(where)s”.") % {
                    "where": where
                }
            else:
                problem = _("That is not a valid JSON Schema.")
            raise forms.ValidationError(f"{problem} {advice}") from None
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


class PasswordSignInForm(AuthenticationForm):
    """The sign-in form. With PASSWORD_LOGIN=false the backend takes passwords from superusers
    only; every refusal then says so, in one message, so it tells no one whose password was
    right."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not settings.PASSWORD_LOGIN:
            self.error_messages = {
                **self.error_messages,
                "invalid_login": _(
                    "Password sign-in is only for administrators here; everyone else signs in "
                    "with single sign-on. Administrators: check your username and password."
                ),
            }
