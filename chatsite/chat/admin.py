"""Admin review: conversations with their transcript, rendered by the chat's own renderer."""

import json

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.html import format_html

from .models import Conversation, Turn


class TurnInline(admin.TabularInline):
    model = Turn
    fields = ("created_at", "status", "model", "interaction_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "owner", "model", "updated_at")
    list_filter = ("model", "updated_at")
    search_fields = ("title", "owner__username")
    date_hierarchy = "updated_at"
    readonly_fields = ("owner", "created_at", "updated_at", "transcript")
    fields = ("title", "owner", "model", "settings", "created_at", "updated_at", "transcript")
    inlines = [TurnInline]

    @admin.display(description="Transcript")
    def transcript(self, obj):
        turns = list(obj.turns.all())
        return render_to_string("admin/chat/transcript.html", {"turns": turns})


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ("pk", "conversation", "status", "model", "created_at")
    list_filter = ("status", "model")
    search_fields = ("interaction_id", "conversation__title")
    readonly_fields = (
        "conversation", "parent", "interaction_id", "status", "model", "user_input", "usage",
        "error", "last_event_id", "background", "created_at", "updated_at", "completed_at",
        "rendered", "raw_steps",
    )  # fmt: skip
    exclude = ("steps",)

    @admin.display(description="Rendered")
    def rendered(self, obj):
        return render_to_string("admin/chat/transcript.html", {"turns": [obj]})

    @admin.display(description="Steps (raw JSON)")
    def raw_steps(self, obj):
        return format_html("<pre class='raw-steps'>{}</pre>", json.dumps(obj.steps, indent=2))
