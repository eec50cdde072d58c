"""Admin review: conversations with their transcript, rendered by the chat's own renderer.

Conversations and turns are read-only here (nothing of what was said can be edited, nor a
title: it is the owner's). Who may read whose conversation, and the read log, live in
admin_views.py; the exports in exports.py.
"""

import contextlib
import json
from datetime import date, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, QueryDict
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import admin_views, branches, conversations, review, usage
from .icons import icon
from .models import (
    Conversation,
    FunctionTool,
    Invite,
    McpServer,
    ModelPrice,
    Review,
    SharedConversation,
    SignInIdentity,
    TranscriptRead,
    Turn,
)
from .templatetags.admin_usage import money

RUNNING = ("pending", "queued", "in_progress", "requires_action", "requires_continuation")
STOPPED = ("cancelled", "incomplete", "budget_exceeded")


def _search_terms(search_term: str) -> list[str]:
    """Django admin's own splitting: words, or "quoted phrases"."""
    terms = []
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit:
            terms.append(bit)
    return terms


class TurnStatusFilter(admin.SimpleListFilter):
    """What happened in a conversation's turns (one EXISTS per choice: no joins, no dupes)."""

    title = "turn status"
    parameter_name = "turns"

    def lookups(self, request, model_admin):
        return [
            ("failed", "Has a failed turn"),
            ("stopped", "Has a stopped or cut-short turn"),
            ("running", "Has an unfinished turn"),
            ("ok", "All turns completed"),
            ("empty", "No turns"),
        ]

    def queryset(self, request, queryset):
        turns = Turn.objects.filter(conversation=OuterRef("pk"))
        value = self.value()
        if value == "failed":
            return queryset.filter(Exists(turns.filter(status="failed")))
        if value == "stopped":
            return queryset.filter(Exists(turns.filter(status__in=STOPPED)))
        if value == "running":
            return queryset.filter(Exists(turns.filter(status__in=RUNNING)))
        if value == "ok":
            return queryset.filter(Exists(turns)).exclude(Exists(turns.exclude(status="completed")))
        if value == "empty":
            return queryset.exclude(Exists(turns))
        return queryset


def render_transcript(turns, *, versions=None) -> str:
    """The chat's own turn markup, each turn headed by its tokens and estimated cost.
    `versions`: what conversation_transcript says about the versions shown."""
    table = usage.prices()
    for turn in turns:
        turn.estimated_cost = usage.turn_cost(turn, table)
    context = {"turns": turns, "versions": versions}
    return render_to_string("admin/chat/transcript.html", context)


def conversation_transcript(conversation, *, every_version=False) -> str:
    """The branch that was on screen for its owner (each turn with other versions says which
    it is), or every turn of every version (`?branch=all`)."""
    turns = list(conversation.turns.all())
    tree = branches.of_turns(conversation, turns)
    path = tree.path()
    shown = turns if every_version else [t for t in turns if t.pk in set(path)]
    versions = {"every": every_version, "others": len(turns) - len(path)}
    return render_transcript(branches.annotate(tree, shown), versions=versions)


class ReviewedFilter(admin.SimpleListFilter):
    title = "reviewed"
    parameter_name = "reviewed"

    def lookups(self, request, model_admin):
        return [("yes", "Reviewed"), ("no", "Not reviewed")]

    def queryset(self, request, queryset):
        done = Review.objects.filter(conversation=OuterRef("pk"), reviewed_at__isnull=False)
        if self.value() == "yes":
            return queryset.filter(Exists(done))
        if self.value() == "no":
            return queryset.exclude(Exists(done))
        return queryset


class FlaggedFilter(admin.SimpleListFilter):
    title = "flagged"
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", "Flagged"), ("no", "Not flagged")]

    def queryset(self, request, queryset):
        flagged = Review.objects.filter(conversation=OuterRef("pk"), flagged=True)
        if self.value() == "yes":
            return queryset.filter(Exists(flagged))
        if self.value() == "no":
            return queryset.exclude(Exists(flagged))
        return queryset


class StartedBetweenFilter(admin.ListFilter):
    """Conversations started between two days (either may be left open), in local time."""

    title = "started between"
    template = "admin/chat/date_range_filter.html"
    names = ("started_from", "started_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.days = {}
        for name in self.names:
            if name in params:
                value = params.pop(name)
                value = value[-1] if isinstance(value, list) else value
                self.used_parameters[name] = value
                with contextlib.suppress(ValueError):  # an unreadable day is no bound
                    self.days[name] = date.fromisoformat(value)

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.names)

    def queryset(self, request, queryset):
        if "started_from" in self.days:
            queryset = queryset.filter(created_at__date__gte=self.days["started_from"])
        if "started_to" in self.days:
            queryset = queryset.filter(created_at__date__lte=self.days["started_to"])
        return queryset

    def choices(self, changelist):
        keep = QueryDict(changelist.get_query_string(remove=[*self.names, "p"])[1:])
        yield {
            "hidden": [(k, v) for k, values in keep.lists() for v in values],
            "from": self.used_parameters.get("started_from", ""),
            "to": self.used_parameters.get("started_to", ""),
            "clear": changelist.get_query_string(remove=[*self.names, "p"]),
        }


class ReadScopedAdmin(admin.ModelAdmin):
    """Read-only admin whose objects belong to a conversation: only readable ones are listed,
    and any other id is a 404 (whether it exists or not)."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("Not found.")
        return obj

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(ReadScopedAdmin):
    list_display = ("__str__", "owner", "model", "turn_count", "tokens", "updated_at")
    review_display = ("review_state",)
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter), "model", TurnStatusFilter)
    review_filters = (ReviewedFilter, FlaggedFilter, StartedBetweenFilter)
    list_select_related = ("owner", "review")
    search_fields = ("title", "owner__username", "turns__search_text")
    search_help_text = "Titles, usernames and the words of messages and replies."
    date_hierarchy = "updated_at"
    fields = ("title", "owner", "model", "settings", "created_at", "updated_at", "transcript")
    readonly_fields = fields
    actions = ["export_json", "export_markdown"]
    view_on_site = False  # the chat page is its owner's alone

    # -- who sees what ---------------------------------------------------------------------

    def get_queryset(self, request):
        turns = Turn.objects.filter(conversation=OuterRef("pk")).order_by().values("conversation")
        queryset = admin_views.readable_conversations(request.user, super().get_queryset(request))
        return queryset.annotate(
            turn_total=Coalesce(
                Subquery(turns.annotate(n=Count("pk")).values("n")),
                Value(0),
                output_field=IntegerField(),
            ),
            token_total=Coalesce(
                Subquery(turns.annotate(n=Sum("total_tokens")).values("n")),
                Value(0),
                output_field=IntegerField(),
            ),
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if not admin_views.may_read(request.user, obj):  # the queryset says so; say it twice
            raise Http404("Not found.")
        return obj

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        return allowed and (obj is None or admin_views.may_read(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or admin_views.may_read(request.user, obj))

    def get_search_results(self, request, queryset, search_term):
        """Each word must be in the title, the owner's username or one of the turns' text:
        EXISTS for the turns, so a conversation is listed once however many turns match."""
        for term in _search_terms(search_term):
            turns = Turn.objects.filter(conversation=OuterRef("pk"), search_text__icontains=term)
            queryset = queryset.filter(
                Q(title__icontains=term) | Q(owner__username__icontains=term) | Exists(turns)
            )
        return queryset, False

    # Review columns and filters only for those who review others' conversations: a staff
    # member looking at their own conversations never learns they were flagged.
    def get_list_display(self, request):
        extra = self.review_display if admin_views.may_read_others(request.user) else ()
        return (*super().get_list_display(request), *extra)

    def get_list_filter(self, request):
        extra = self.review_filters if admin_views.may_read_others(request.user) else ()
        return (*super().get_list_filter(request), *extra)

    # -- columns and fields ----------------------------------------------------------------

    @admin.display(description=_("Review"))
    def review_state(self, obj):
        found = getattr(obj, "review", None)  # select_related: None when there is none
        if found is None:
            return "—"
        parts = []
        if found.reviewed_at:
            who = found.reviewed_by or "(deleted)"
            parts.append(format_html("{} reviewed by {}", icon("check"), who))
        if found.flagged:
            parts.append(format_html('<span class="review-flag" title="{}">{} flagged</span>',
                                     found.flag_reason, icon("flag")))  # fmt: skip
        return format_html_join(" · ", "{}", ((p,) for p in parts)) if parts else "—"

    @admin.display(description=_("Turns"), ordering="turn_total")
    def turn_count(self, obj):
        return obj.turn_total

    @admin.display(description=_("Tokens"), ordering="token_total")
    def tokens(self, obj):
        return f"{obj.token_total:,}"

    @admin.display(description=_("Transcript"))
    def transcript(self, obj):
        return conversation_transcript(obj, every_version=getattr(obj, "every_version", False))

    # -- pages -----------------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.method == "GET":
            admin_views.log_read(request, obj, "transcript")
        if obj is not None:  # the form's own instance: its transcript field reads this
            obj.every_version = request.GET.get("branch") == "all"
        if obj is not None and review.may_review(request.user, obj):
            context["review"] = review.review_of(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_usage_link": admin_views.may_see_usage(request.user),
        }
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None and changelist.query.strip():
            # A search looks into what was said: the others' conversations it lists were read.
            admin_views.log_search(request, changelist.result_list, changelist.query.strip())
        return response

    def get_urls(self):
        view = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("usage/", view(self.usage_view), name=f"{name}_usage"),
            path("<int:pk>/review/", view(self.review_view), name=f"{name}_review"),
            path("<int:pk>/export.json", view(self.json_view), name=f"{name}_export_json"),
            path("<int:pk>/export.md", view(self.markdown_view), name=f"{name}_export_markdown"),
            path("<int:pk>/raw/", view(self.raw_view), name=f"{name}_raw"),
            path(
                "<int:pk>/turns/<int:turn_id>/steps/",
                view(self.turn_steps_view),
                name=f"{name}_turn_steps",
            ),
            *super().get_urls(),
        ]

    def _check_view(self, request):
        if not self.has_view_permission(request):
            raise Http404("Not found.")

    def usage_view(self, request):
        return admin_views.usage(request, self)

    def review_view(self, request, pk):
        self._check_view(request)
        return admin_views.review_action(request, pk)

    def json_view(self, request, pk):
        self._check_view(request)
        return admin_views.json_export(request, admin_views.conversation_for(request, pk))

    def markdown_view(self, request, pk):
        self._check_view(request)
        return admin_views.markdown_export(request, admin_views.conversation_for(request, pk))

    def raw_view(self, request, pk):
        self._check_view(request)
        return admin_views.conversation_raw(request, self, pk)

    def turn_steps_view(self, request, pk, turn_id):
        self._check_view(request)
        return admin_views.turn_steps_raw(request, self, pk, turn_id)

    # -- actions ---------------------------------------------------------------------------

    def _one(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, gettext("Select exactly one conversation to export."), messages.ERROR
            )
            return None
        return queryset.select_related("owner").get()

    @admin.action(description=_("Export the selected conversation as JSON"))
    def export_json(self, request, queryset):
        conversation = self._one(request, queryset)
        return conversation and admin_views.json_export(request, conversation)

    @admin.action(description=_("Export the selected conversation as Markdown"))
    def export_markdown(self, request, queryset):
        conversation = self._one(request, queryset)
        return conversation and admin_views.markdown_export(request, conversation)


@admin.register(Turn)
class TurnAdmin(ReadScopedAdmin):
    list_display = ("pk", "conversation", "owner", "status", "model", "total_tokens", "created_at")
    list_filter = ("status", "model")
    list_select_related = ("conversation", "conversation__owner")
    search_fields = ("interaction_id", "conversation__title")
    date_hierarchy = "created_at"
    readonly_fields = (
        "conversation", "parent", "interaction_id", "status", "model", "user_input", "usage",
        "error", "last_event_id", "continuation_ids", "background", "total_tokens",
        "created_at", "updated_at", "completed_at", "rendered", "raw_steps",
    )  # fmt: skip
    fields = readonly_fields

    def get_queryset(self, request):
        return admin_views.readable_turns(request.user, super().get_queryset(request))

    def has_view_permission(self, request, obj=None):
        allowed = super().has_view_permission(request, obj)
        return allowed and (obj is None or admin_views.may_read(request.user, obj.conversation))

    def has_delete_permission(self, request, obj=None):
        return False  # a turn is a link in its conversation's chain of interactions

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.method == "GET":
            admin_views.log_read(request, obj.conversation, "turn")
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=_("Owner"), ordering="conversation__owner")
    def owner(self, obj):
        return obj.conversation.owner

    @admin.display(description=_("Rendered"))
    def rendered(self, obj):
        return render_transcript([obj])

    def get_list_display(self, request):
        table = usage.prices()  # once per page, not per row

        @admin.display(description=_("Est. cost"))
        def cost(obj):
            return money(usage.turn_cost(obj, table))

        return (*self.list_display, cost)

    @admin.display(description=_("Steps (raw JSON)"))
    def raw_steps(self, obj):
        return format_html(
            "<pre class='raw-steps'>{}</pre>",
            json.dumps(obj.steps, indent=2, ensure_ascii=False),
        )


@admin.register(TranscriptRead)
class TranscriptReadAdmin(admin.ModelAdmin):
    """The read log: who read whose conversation, when. Nobody can add, change or delete it."""

    list_display = ("at", "reader", "owner", "conversation_title", "what", "detail")
    list_filter = (
        ("reader", admin.RelatedOnlyFieldListFilter),
        ("owner", admin.RelatedOnlyFieldListFilter),
        "what",
    )
    list_select_related = ("reader", "owner")
    search_fields = ("conversation_title", "reader__username", "owner__username")
    date_hierarchy = "at"
    fields = ("at", "reader", "owner", "conversation", "conversation_title", "what", "detail")
    readonly_fields = fields

    def get_queryset(self, request):
        return admin_views.visible_reads(request.user, super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def invite_path(invite: Invite) -> str:
    try:
        return invite.get_absolute_url()
    except NoReverseMatch:
        return f"/accounts/invite/{invite.token}/"


@admin.register(SignInIdentity)
class SignInIdentityAdmin(admin.ModelAdmin):
    """Who signs in through the provider, as which account. Made only by signing in; deleting
    one unlinks it (that provider account then gets a new account at its next sign-in)."""

    list_display = ("user", "email", "issuer", "last_sign_in")
    list_select_related = ("user",)
    search_fields = ("user__username", "email", "subject")
    readonly_fields = ("user", "issuer", "subject", "email", "created_at", "last_sign_in")

    def has_add_permission(self, request):
        return False


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_select_related = ("created_by", "used_by")
    search_fields = ("note", "created_by__username", "used_by__username")
    fields = ("note", "expires_at", "created_by", "used_by", "created_at")
    readonly_fields = ("created_by", "used_by", "created_at")
    EXPIRES_AFTER = timedelta(days=7)

    def get_list_display(self, request):
        # The full link needs the request (host and scheme): a column made for this request.
        @admin.display(description=_("Link"))
        def link(obj):
            # Text to copy, not a link: an admin should not open someone's invite by accident.
            return format_html("<code>{}</code>", request.build_absolute_uri(invite_path(obj)))

        return ("__str__", link, "state", "expires_at", "created_by", "created_at")

    @admin.display(description=_("State"))
    def state(self, obj):
        if obj.used_by_id:
            return f"used by {obj.used_by}"
        if obj.expires_at <= timezone.now():
            return "expired"
        return "open"

    def get_changeform_initial_data(self, request):
        return {
            "expires_at": timezone.now() + self.EXPIRES_AFTER,
            **super().get_changeform_initial_data(request),
        }

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["invite_url"] = request.build_absolute_uri(invite_path(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj, post_url_continue=None):
        url = request.build_absolute_uri(invite_path(obj))
        self.message_user(request, format_html(gettext("Invite link: <code>{}</code>"), url))
        return super().response_add(request, obj, post_url_continue)


@admin.register(FunctionTool)
class FunctionToolAdmin(admin.ModelAdmin):
    """Admins switch the built-in server-side tools on and off for everyone."""

    list_display = ("name", "enabled", "description")
    list_editable = ("enabled",)

    def get_form(self, request, obj=None, **kwargs):
        from .tools import REGISTRY

        form = super().get_form(request, obj, **kwargs)
        choices = [(name, name) for name in sorted(REGISTRY)]
        form.base_fields["name"].widget = forms.Select(choices=choices)
        return form

    @admin.display(description=_("What it does"))
    def description(self, obj):
        from .tools import REGISTRY

        tool = REGISTRY.get(obj.name)
        return tool.description if tool else "(no such tool in this version)"


def masked_headers(headers) -> str:
    """Header names with their values hidden: enough to see what is set, nothing to copy."""
    if not headers:
        return "(none)"
    return ", ".join(f"{name}: ••••••••" for name in sorted(headers))


class McpServerForm(forms.ModelForm):
    """Headers (bearer tokens) are write-only: the form never shows the stored ones, and
    leaving the field blank keeps them ({} clears them)."""

    url = forms.URLField(max_length=500, assume_scheme="https")
    headers = forms.CharField(
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
    )

    class Meta:
        model = McpServer
        fields = ("name", "url", "headers", "allowed_tools", "enabled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["headers"] = ""
        stored = self.instance.headers if self.instance.pk else {}
        self.fields["headers"].help_text = (
            'Sent with every call, as a JSON object, e.g. {"Authorization": "Bearer …"}. '
            + (
                f"Stored: {masked_headers(stored)}. Leave blank to keep them; {{}} removes them."
                if stored
                else "None stored."
            )
        )

    def clean_name(self):
        from .forms import valid_mcp_name

        name = self.cleaned_data["name"]
        if not valid_mcp_name(name):
            raise forms.ValidationError(
                "Use letters, digits and underscores (snake_case): the API refuses “-” here."
            )
        return name

    def clean_url(self):
        url = self.cleaned_data["url"]
        if not url.startswith("https://"):
            raise forms.ValidationError(
                _("Use an https:// URL: the API calls it over the internet.")
            )
        return url

    def clean_headers(self):
        text = self.cleaned_data["headers"]
        if not text:
            return self.instance.headers if self.instance.pk else {}
        try:
            headers = json.loads(text)
        except ValueError:
            headers = None
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise forms.ValidationError(
                'Headers are a JSON object of strings, e.g. {"Authorization": "Bearer …"}.'
            )
        return headers

    def clean_allowed_tools(self):
        tools = self.cleaned_data["allowed_tools"] or []
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise forms.ValidationError('A JSON list of tool names, e.g. ["search", "fetch"].')
        return tools


@admin.register(McpServer)
class McpServerAdmin(admin.ModelAdmin):
    """Remote MCP servers people may switch on per conversation; headers stay on the server."""

    form = McpServerForm
    list_display = ("name", "url", "enabled", "tool_count")
    list_editable = ("enabled",)

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if f != "stored_headers"]
        if not self.has_change_permission(request, obj):  # view only: the headers masked
            fields[fields.index("headers")] = "stored_headers"
        return fields

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "stored_headers")

    @admin.display(description=_("Headers"))
    def stored_headers(self, obj):
        return masked_headers(obj.headers if obj else {})

    @admin.display(description=_("Allowed tools"))
    def tool_count(self, obj):
        return ", ".join(obj.allowed_tools) if obj.allowed_tools else "all"


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """The price table the usage page's cost estimates come from (USD per million tokens)."""

    list_display = ("model", "input_per_million", "output_per_million", "thinking_per_million")
    list_editable = ("input_per_million", "output_per_million", "thinking_per_million")
    search_fields = ("model",)


# -- people: export or delete everything of one person ---------------------------------------

User = get_user_model()


class PersonDataAdmin(UserAdmin):
    """The site's user admin, plus a person's data: export it all (ZIP), or delete the person
    with all of it, upstream interactions too. Both audited."""

    actions = ["export_everything", "delete_with_data"]  # UserAdmin has none of its own

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not admin_views.may_manage_people(request.user):
            actions.pop("export_everything", None)
            actions.pop("delete_with_data", None)
        return actions

    def _person(self, request, queryset):
        if not admin_views.may_manage_people(request.user):
            raise PermissionDenied
        if queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one person."), messages.ERROR)
            return None
        return queryset.get()

    @admin.action(description=_("Export everything of the selected person (ZIP)"))
    def export_everything(self, request, queryset):
        person = self._person(request, queryset)
        return person and admin_views.export_person(request, person)

    @admin.action(description=_("Delete the selected person with all their data"))
    def delete_with_data(self, request, queryset):
        person = self._person(request, queryset)
        return person and admin_views.delete_person_page(request, self, person)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PersonDataAdmin)


@admin.register(SharedConversation)
class SharedConversationAdmin(ReadScopedAdmin):
    """Conversations with a live share link (`/s/…`), and "Stop sharing". Each stop is logged
    like a read of someone else's conversation; the transcript itself opens, logged, in
    Conversations (rows link there: this list shows no text of theirs)."""

    list_display = ("conversation_link", "owner", "shared_at")
    list_display_links = None
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("owner",)
    search_fields = ("title", "owner__username")
    date_hierarchy = "shared_at"
    ordering = ("-shared_at",)
    actions = ["stop_sharing"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).filter(share_token__isnull=False)
        return admin_views.readable_conversations(request.user, queryset)

    def has_view_permission(self, request, obj=None):
        if obj is not None:
            return False  # no page of its own: the list and the action only
        allowed = super().has_view_permission(request) or admin_views.may_read_others(request.user)
        return allowed and request.user.is_active and request.user.is_staff

    def has_delete_permission(self, request, obj=None):
        return False

    def has_stop_sharing_permission(self, request):
        return self.has_view_permission(request)

    @admin.display(description=_("Title"), ordering="title")
    def conversation_link(self, obj):
        try:
            url = reverse("admin:chat_conversation_change", args=[obj.pk])
        except NoReverseMatch:
            return str(obj)
        return format_html('<a href="{}">{}</a>', url, str(obj))

    @admin.action(description=_("Stop sharing"), permissions=["stop_sharing"])
    def stop_sharing(self, request, queryset):
        rows = list(queryset.select_related("owner"))
        for convo in rows:
            shared = f"shared {convo.shared_at:%Y-%m-%d %H:%M}"
            conversations.stop_sharing(convo)
            admin_views.log_read(request, convo, "stop sharing", shared)
        self.message_user(request, f"Stopped sharing {len(rows)} conversation(s).")
