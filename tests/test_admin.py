"""The admin review: finding conversations, reading them as the chat shows them, their raw steps,
token usage, exports, and who may read whose conversation (every such read is logged)."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from chatsite.chat.models import Conversation, Invite, TranscriptRead, Turn

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/chat/conversation/"


def change_url(convo):
    return f"/admin/chat/conversation/{convo.pk}/change/"


def make_turn(convo, text, answer, *, status="completed", tokens=0, steps=(), **extra):
    turn = Turn.objects.create(
        conversation=convo,
        status=status,
        user_input=[{"type": "text", "text": text}],
        steps=[
            {"type": "user_input", "content": [{"type": "text", "text": text}]},
            *steps,
            {"type": "model_output", "content": [{"type": "text", "text": answer}]},
        ],
        usage={"total_tokens": tokens} if tokens else {},
        **extra,
    )
    turn.refresh_search_text()
    turn.save(update_fields=["search_text", "total_tokens"])
    return turn


def grant(user, *codenames):
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="chat", codename=codename)
        )


def listed(response):
    return {c.title for c in response.context["cl"].result_list}


@pytest.fixture
def boss(make_user):
    return make_user("boss", is_staff=True, is_superuser=True)


@pytest.fixture
def staffer(make_user):
    """Staff who may view conversations and turns, but is not a superuser."""
    staff = make_user("sam", is_staff=True)
    grant(staff, "view_conversation", "view_turn")
    return staff


@pytest.fixture
def conversation(user):
    convo = Conversation.objects.create(
        owner=user, title="Quarterly plan", model="gemini-3.5-flash"
    )
    make_turn(
        convo,
        "Summarise the plan",
        "The plan has **three** parts.",
        interaction_id="v1_abc",
        tokens=120,
    )
    return convo


# -- finding conversations -----------------------------------------------------------------


def test_the_list_filters_by_owner_model_turn_status_and_date(
    client, boss, user, other_user, conversation
):
    agent = Conversation.objects.create(
        owner=other_user, title="Deep dive", model="deep-research-pro-preview"
    )
    make_turn(agent, "Research it", "Here is what I found.", status="failed")
    running = Conversation.objects.create(owner=user, title="Still going", model="gemini-3-pro")
    make_turn(running, "Go on", "", status="in_progress")
    Conversation.objects.create(owner=user, title="Empty", model="gemini-3-pro")
    Conversation.objects.filter(pk=agent.pk).update(updated_at=timezone.now() - timedelta(days=400))
    client.force_login(boss)

    assert listed(client.get(CHANGELIST)) == {"Quarterly plan", "Deep dive", "Still going", "Empty"}
    assert listed(client.get(f"{CHANGELIST}?owner__id__exact={other_user.pk}")) == {"Deep dive"}
    assert listed(client.get(f"{CHANGELIST}?model=deep-research-pro-preview")) == {"Deep dive"}
    assert listed(client.get(f"{CHANGELIST}?turns=failed")) == {"Deep dive"}
    assert listed(client.get(f"{CHANGELIST}?turns=running")) == {"Still going"}
    assert listed(client.get(f"{CHANGELIST}?turns=ok")) == {"Quarterly plan"}
    assert listed(client.get(f"{CHANGELIST}?turns=empty")) == {"Empty"}
    this_year = timezone.localdate().year
    assert "Deep dive" not in listed(client.get(f"{CHANGELIST}?updated_at__year={this_year}"))


def test_search_finds_a_conversation_by_a_word_of_a_reply_once(client, boss, conversation):
    make_turn(conversation, "And the budget?", "Three parts, one budget.")
    Conversation.objects.create(owner=conversation.owner, title="Unrelated", model="m")
    client.force_login(boss)

    response = client.get(f"{CHANGELIST}?q=parts")  # in both turns' replies
    assert [c.title for c in response.context["cl"].result_list] == ["Quarterly plan"]
    assert response.context["cl"].result_count == 1
    assert listed(client.get(f"{CHANGELIST}?q=budget")) == {"Quarterly plan"}  # the user's words
    assert listed(client.get(f"{CHANGELIST}?q=Quarterly")) == {"Quarterly plan"}  # the title
    assert listed(client.get(f"{CHANGELIST}?q=ada")) == {"Quarterly plan", "Unrelated"}  # owner
    assert listed(client.get(f'{CHANGELIST}?q="one budget" three')) == {"Quarterly plan"}
    assert listed(client.get(f"{CHANGELIST}?q=parts+nowhere")) == set()


def test_the_list_shows_turns_and_tokens_without_a_query_per_row(
    client, boss, user, conversation, django_assert_max_num_queries
):
    make_turn(conversation, "More", "Yes.", tokens=30)
    for i in range(15):
        convo = Conversation.objects.create(owner=user, title=f"Chat {i}", model="m")
        make_turn(convo, "hi", "hello", tokens=i)
    client.force_login(boss)

    with django_assert_max_num_queries(10):
        response = client.get(CHANGELIST)
    row = next(c for c in response.context["cl"].result_list if c.title == "Quarterly plan")
    assert (row.turn_total, row.token_total) == (2, 150)
    page = response.content.decode()
    assert "150" in page and "Token usage" in page


# -- reading one -----------------------------------------------------------------------------


def test_the_transcript_is_rendered_by_the_chat_renderer(client, boss, conversation):
    client.force_login(boss)
    page = client.get(change_url(conversation)).content.decode()
    assert "Summarise the plan" in page
    assert "<strong>three</strong>" in page  # rendered by the chat's own renderer
    assert 'data-step-type="model_output"' in page
    assert 'data-role="assistant" data-status="completed"' in page
    assert "Retry" not in page  # review mode
    assert "viewsitelink" not in page  # the chat page is the owner's alone
    turn = conversation.turns.get()
    assert f"/admin/chat/conversation/{conversation.pk}/turns/{turn.pk}/steps/" in page
    for tool in ("export.json", "export.md", "/raw/"):
        assert f"/admin/chat/conversation/{conversation.pk}/{tool.strip('/')}" in page


def test_conversations_are_read_only_and_cannot_be_added(client, boss, conversation):
    client.force_login(boss)
    page = client.get(change_url(conversation)).content.decode()
    assert 'name="title"' not in page and 'name="_save"' not in page
    response = client.post(change_url(conversation), {"title": "Renamed"})
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.title == "Quarterly plan"
    assert client.get(f"{CHANGELIST}add/").status_code == 403


def test_the_raw_steps_of_a_turn_are_shown_verbatim_and_escaped(client, boss, conversation):
    turn = make_turn(
        conversation,
        "x",
        "</pre><script>alert(1)</script>",
        steps=[{"type": "mystery_step", "novel": {"deep": [1, 2.5, None]}}],
    )
    client.force_login(boss)
    response = client.get(f"/admin/chat/conversation/{conversation.pk}/turns/{turn.pk}/steps/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;mystery_step&quot;" in page and "&quot;novel&quot;" in page

    page = client.get(f"/admin/chat/conversation/{conversation.pk}/raw/").content.decode()
    assert "&quot;v1_abc&quot;" in page and "&quot;mystery_step&quot;" in page

    other = Conversation.objects.create(owner=conversation.owner, title="Other", model="m")
    url = f"/admin/chat/conversation/{other.pk}/turns/{turn.pk}/steps/"
    assert client.get(url).status_code == 404  # a turn of another conversation


def test_turn_page_shows_the_raw_steps(client, boss, conversation):
    client.force_login(boss)
    turn = conversation.turns.get()
    page = client.get(f"/admin/chat/turn/{turn.pk}/change/").content.decode()
    assert "v1_abc" in page and "&quot;model_output&quot;" in page


def test_people_who_are_not_staff_cannot_open_the_admin(client, user, conversation):
    client.force_login(user)
    for url in (change_url(conversation), f"{CHANGELIST}{conversation.pk}/export.json"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


# -- usage ---------------------------------------------------------------------------------


def test_usage_sums_tokens_per_user_per_day_in_constant_queries(
    client, boss, user, other_user, make_user, django_assert_max_num_queries
):
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    mine = Conversation.objects.create(owner=user, title="a", model="m")
    theirs = Conversation.objects.create(owner=other_user, title="b", model="m")
    for convo, days_ago, tokens in [
        (mine, 0, 100), (mine, 0, 23), (mine, 1, 7), (theirs, 0, 5), (mine, 45, 9999),
    ]:  # fmt: skip
        turn = make_turn(convo, "q", "a", tokens=tokens)
        Turn.objects.filter(pk=turn.pk).update(created_at=today - timedelta(days=days_ago))
    client.force_login(boss)

    with django_assert_max_num_queries(5) as few:
        response = client.get("/admin/chat/conversation/usage/")
    report = response.context["report"]
    rows = {p.label: p for p in report.people}
    assert rows["ada"].total == 130 and rows["mallory"].total == 5
    assert (report.days[-1].total, report.days[-1].turns) == (128, 3)  # today
    assert (report.days[-2].total, report.days[-2].turns) == (7, 1)  # yesterday
    assert report.total.total == 135
    assert len(report.days) == 30 and report.days[-1].key == timezone.localdate()

    # More people and more days: the same number of queries.
    for i in range(8):
        convo = Conversation.objects.create(owner=make_user(f"u{i}"), title="c", model="m")
        for day in range(5):
            turn = make_turn(convo, "q", "a", tokens=day + 1)
            Turn.objects.filter(pk=turn.pk).update(created_at=today - timedelta(days=day))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/admin/chat/conversation/usage/")
    assert len(response.context["report"].people) == 10
    assert response.context["report"].total.total == 135 + 8 * 15


def test_usage_needs_the_right_to_view_turns(client, make_user):
    staff = make_user("sam", is_staff=True)
    grant(staff, "view_conversation")
    client.force_login(staff)
    assert client.get("/admin/chat/conversation/usage/").status_code == 403
    assert "Token usage" not in client.get(CHANGELIST).content.decode()
    grant(staff, "view_turn")
    assert client.get("/admin/chat/conversation/usage/").status_code == 200


# -- exports -------------------------------------------------------------------------------


def test_export_buttons_download_json_and_markdown(client, boss, conversation):
    client.force_login(boss)
    response = client.get(f"{CHANGELIST}{conversation.pk}/export.json")
    assert response["Content-Type"] == "application/json"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="conversation-{conversation.pk}.json"'
    )
    data = json.loads(response.content)
    assert data["turns"][0]["steps"] == conversation.turns.get().steps

    response = client.get(f"{CHANGELIST}{conversation.pk}/export.md")
    assert response["Content-Type"].startswith("text/markdown")
    assert f'filename="conversation-{conversation.pk}.md"' in response["Content-Disposition"]
    text = response.content.decode()
    assert text.startswith("# Quarterly plan")
    assert "### You\n\nSummarise the plan" in text and "The plan has **three** parts." in text


def test_export_actions_take_exactly_one_conversation(client, boss, user, conversation):
    second = Conversation.objects.create(owner=user, title="Second", model="m")
    client.force_login(boss)
    response = client.post(
        CHANGELIST, {"action": "export_json", "_selected_action": [conversation.pk]}
    )
    assert json.loads(response.content)["title"] == "Quarterly plan"
    response = client.post(
        CHANGELIST, {"action": "export_markdown", "_selected_action": [conversation.pk]}
    )
    assert response.content.decode().startswith("# Quarterly plan")
    response = client.post(
        CHANGELIST,
        {"action": "export_json", "_selected_action": [conversation.pk, second.pk]},
        follow=True,
    )
    assert "Select exactly one conversation" in response.content.decode()
    assert TranscriptRead.objects.filter(what="json").count() == 1


# -- who may read whose conversation ---------------------------------------------------------


def test_a_superuser_reads_others_and_every_read_is_logged(client, boss, user, conversation):
    client.force_login(boss)
    assert client.get(change_url(conversation)).status_code == 200
    client.get(f"{CHANGELIST}{conversation.pk}/export.json")
    client.get(f"{CHANGELIST}{conversation.pk}/export.md")
    client.get(f"{CHANGELIST}{conversation.pk}/raw/")
    turn = conversation.turns.get()
    client.get(f"{CHANGELIST}{conversation.pk}/turns/{turn.pk}/steps/")
    client.get(f"/admin/chat/turn/{turn.pk}/change/")

    reads = list(TranscriptRead.objects.order_by("pk"))
    assert [r.what for r in reads] == ["transcript", "json", "markdown", "raw", "raw", "turn"]
    for read in reads:
        assert (read.reader, read.owner, read.conversation) == (boss, user, conversation)
        assert read.conversation_title == "Quarterly plan" and read.at is not None


def test_listing_conversations_is_not_a_read(client, boss, conversation):
    client.force_login(boss)
    client.get(CHANGELIST)
    client.get(f"{CHANGELIST}?owner__id__exact={conversation.owner_id}")
    assert not TranscriptRead.objects.exists()


def test_a_search_reads_each_other_persons_conversation_it_lists(client, boss, user, conversation):
    """A search looks into what was said: what it finds is logged, with the words searched."""
    mine = Conversation.objects.create(owner=boss, title="Boss's three", model="m")
    make_turn(mine, "three", "three")
    Conversation.objects.create(owner=user, title="Unrelated", model="m")
    client.force_login(boss)

    assert listed(client.get(f"{CHANGELIST}?q=three")) == {"Quarterly plan", "Boss's three"}
    read = TranscriptRead.objects.get()  # not the boss's own, not the one it did not list
    assert (read.reader, read.owner, read.conversation) == (boss, user, conversation)
    assert (read.what, read.detail) == ("search", "three")
    client.get(f"{CHANGELIST}?q=nowhere")
    assert TranscriptRead.objects.count() == 1


def test_fetching_someone_elses_media_in_review_is_a_logged_read(client, boss, user):
    from chatsite.chat.rendering import media_url

    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNg+M8AAAMBAQAY3Y2w"
        "AAAAAElFTkSuQmCC"
    )
    convo = Conversation.objects.create(owner=user, title="Drawings", model="m")
    block = {"type": "image", "data": png, "mime_type": "image/png"}
    turn = make_turn(convo, "draw", "here", steps=[{"type": "model_output", "content": [block]}])
    client.force_login(boss)
    assert client.get(media_url(turn.pk, block)).status_code == 200
    read = TranscriptRead.objects.get()
    assert (read.reader, read.owner, read.conversation, read.what) == (boss, user, convo, "media")
    assert f"turn {turn.pk}" in read.detail
    client.force_login(user)  # the owner's own fetch is not a read
    assert client.get(media_url(turn.pk, block)).status_code == 200
    assert TranscriptRead.objects.count() == 1


def test_reading_your_own_conversation_is_not_logged(client, make_user):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    mine = Conversation.objects.create(owner=boss, title="Mine", model="m")
    make_turn(mine, "hello", "hi")
    client.force_login(boss)
    assert client.get(change_url(mine)).status_code == 200
    assert client.get(f"{CHANGELIST}{mine.pk}/export.json").status_code == 200
    assert not TranscriptRead.objects.exists()


def test_staff_see_only_their_own_conversations_by_default(client, staffer, conversation, settings):
    settings.ADMIN_TRANSCRIPT_READERS = "superusers"
    own = Conversation.objects.create(owner=staffer, title="Sam's own", model="m")
    make_turn(own, "mine", "yours")
    client.force_login(staffer)

    response = client.get(CHANGELIST)
    assert listed(response) == {"Sam's own"}
    assert "ada" not in response.content.decode()  # not even in the owner filter
    assert listed(client.get(f"{CHANGELIST}?q=three")) == set()
    turn = conversation.turns.get()
    for url in (
        change_url(conversation),
        f"{CHANGELIST}{conversation.pk}/export.json",
        f"{CHANGELIST}{conversation.pk}/export.md",
        f"{CHANGELIST}{conversation.pk}/raw/",
        f"{CHANGELIST}{conversation.pk}/turns/{turn.pk}/steps/",
        f"{CHANGELIST}{conversation.pk}/history/",
        f"/admin/chat/turn/{turn.pk}/change/",
    ):
        assert client.get(url).status_code in (403, 404), url
    response = client.post(
        CHANGELIST, {"action": "export_json", "_selected_action": [conversation.pk]}
    )
    assert response["Content-Type"] != "application/json"
    assert client.get(change_url(own)).status_code == 200
    assert not TranscriptRead.objects.exists()


def test_staff_with_the_setting_and_the_permission_read_others(
    client, staffer, user, conversation, settings
):
    settings.ADMIN_TRANSCRIPT_READERS = "staff"
    client.force_login(staffer)
    assert "Quarterly plan" in listed(client.get(CHANGELIST))
    assert "<strong>three</strong>" in client.get(change_url(conversation)).content.decode()
    assert client.get(f"{CHANGELIST}{conversation.pk}/export.md").status_code == 200
    assert [(r.reader, r.owner, r.what) for r in TranscriptRead.objects.order_by("pk")] == [
        (staffer, user, "transcript"),
        (staffer, user, "markdown"),
    ]


def test_the_setting_alone_is_not_enough_without_the_permission(
    client, make_user, conversation, settings
):
    settings.ADMIN_TRANSCRIPT_READERS = "staff"
    staff = make_user("tess", is_staff=True)
    grant(staff, "view_turn")  # may see usage and turns, not conversations
    client.force_login(staff)
    assert client.get(change_url(conversation)).status_code in (403, 404)
    assert client.get(f"{CHANGELIST}{conversation.pk}/export.json").status_code in (403, 404)
    turn = conversation.turns.get()
    assert client.get(f"/admin/chat/turn/{turn.pk}/change/").status_code == 404
    assert not TranscriptRead.objects.exists()


# -- the read log --------------------------------------------------------------------------


def test_the_read_log_lists_reads_and_nobody_can_add_change_or_delete(client, boss, conversation):
    client.force_login(boss)
    client.get(change_url(conversation))
    read = TranscriptRead.objects.get()

    page = client.get("/admin/chat/transcriptread/").content.decode()
    assert "Quarterly plan" in page and "boss" in page and "transcript" in page
    by_owner = client.get(f"/admin/chat/transcriptread/?owner__id__exact={read.owner_id}")
    assert by_owner.status_code == 200
    assert client.get("/admin/chat/transcriptread/add/").status_code == 403
    url = f"/admin/chat/transcriptread/{read.pk}/change/"
    assert client.get(url).status_code == 200  # view only
    assert client.post(url, {"what": "nothing"}).status_code == 403
    delete = f"/admin/chat/transcriptread/{read.pk}/delete/"
    assert client.post(delete, {"post": "yes"}).status_code == 403
    response = client.post(
        "/admin/chat/transcriptread/",
        {"action": "delete_selected", "_selected_action": [read.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    read.refresh_from_db()
    assert read.what == "transcript"


def test_staff_without_transcript_rights_see_only_reads_of_their_own_conversations(
    client, boss, staffer, user, conversation, settings
):
    settings.ADMIN_TRANSCRIPT_READERS = "superusers"
    own = Conversation.objects.create(owner=staffer, title="Staff notes", model="m")
    client.force_login(boss)
    client.get(change_url(conversation))
    client.get(change_url(own))
    grant(staffer, "view_transcriptread")
    client.force_login(staffer)

    page = client.get("/admin/chat/transcriptread/").content.decode()
    assert "Staff notes" in page
    assert "Quarterly plan" not in page
    searched = client.get("/admin/chat/transcriptread/?q=Quarterly")
    assert searched.context["cl"].result_count == 0
    others = TranscriptRead.objects.get(owner=user)
    assert client.get(f"/admin/chat/transcriptread/{others.pk}/change/").status_code in (302, 404)


# -- invites -------------------------------------------------------------------------------


def test_an_admin_creates_an_invite_and_sees_its_link(client, boss):
    client.force_login(boss)
    form = client.get("/admin/chat/invite/add/")
    initial = form.context["adminform"].form.initial["expires_at"]
    assert timedelta(days=6, hours=23) < initial - timezone.now() <= timedelta(days=7)

    expires = (timezone.localtime() + timedelta(days=7)).replace(microsecond=0)
    response = client.post(
        "/admin/chat/invite/add/",
        {
            "note": "For Grace",
            "expires_at_0": expires.strftime("%Y-%m-%d"),
            "expires_at_1": expires.strftime("%H:%M:%S"),
        },
        follow=True,
    )
    invite = Invite.objects.get()
    assert invite.created_by == boss and invite.note == "For Grace" and len(invite.token) >= 24
    assert invite.usable
    link = f"http://testserver/accounts/invite/{invite.token}/"
    assert link in response.content.decode()  # the message after adding
    assert link in client.get("/admin/chat/invite/").content.decode()  # the list
    assert link in client.get(f"/admin/chat/invite/{invite.pk}/change/").content.decode()


def test_the_invite_list_says_who_used_it(client, boss, user):
    Invite.objects.create(
        created_by=boss, note="used", expires_at=timezone.now() + timedelta(days=1), used_by=user
    )
    Invite.objects.create(created_by=boss, note="old", expires_at=timezone.now() - timedelta(1))
    client.force_login(boss)
    page = client.get("/admin/chat/invite/").content.decode()
    assert "used by ada" in page and "expired" in page


def test_invites_need_the_invite_permissions(client, staffer):
    client.force_login(staffer)
    assert client.get("/admin/chat/invite/").status_code == 403
    assert client.get("/admin/chat/invite/add/").status_code == 403
    grant(staffer, "view_invite", "add_invite")
    assert client.get("/admin/chat/invite/").status_code == 200
    assert client.get("/admin/chat/invite/add/").status_code == 200


def test_admin_switches_function_tools_off_for_everyone(client, make_user):
    from chatsite.chat.forms import ComposerForm
    from chatsite.chat.models import FunctionTool

    boss = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(boss)
    page = client.get("/admin/chat/functiontool/").content.decode()
    assert "calculator" in page and "convert_units" in page
    FunctionTool.objects.filter(name="calculator").update(enabled=False)
    offered = [c for c, _ in ComposerForm.for_conversation().fields["functions"].choices]
    assert "calculator" not in offered and "current_time" in offered


def test_mcp_server_needs_https_and_string_headers(client, make_user):
    boss = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(boss)
    response = client.post(
        "/admin/chat/mcpserver/add/",
        {"name": "wiki", "url": "http://mcp.example.com", "headers": '{"a": 1}',
         "allowed_tools": "[]", "enabled": "on"},
    )  # fmt: skip
    body = response.content.decode()
    assert "Use an https:// URL" in body and "JSON object of strings" in body
    response = client.post(
        "/admin/chat/mcpserver/add/",
        {"name": "wiki", "url": "https://mcp.example.com/sse",
         "headers": '{"Authorization": "Bearer x"}', "allowed_tools": '["search"]',
         "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 302


def test_mcp_server_headers_are_masked_and_write_only(client, make_user):
    from chatsite.chat.models import McpServer

    boss = make_user("root", is_staff=True, is_superuser=True)
    server = McpServer.objects.create(
        name="wiki", url="https://mcp.example.com/sse",
        headers={"Authorization": "Bearer sk-secret-token-123"},
    )  # fmt: skip
    url = f"/admin/chat/mcpserver/{server.pk}/change/"
    client.force_login(boss)
    page = client.get(url).content.decode()
    assert "sk-secret-token-123" not in page
    assert "Authorization: ••••••••" in page

    form = {"name": "wiki", "url": "https://mcp.example.com/sse", "headers": "",
            "allowed_tools": "[]", "enabled": "on"}  # fmt: skip
    assert client.post(url, form).status_code == 302  # blank: the stored headers stay
    server.refresh_from_db()
    assert server.headers == {"Authorization": "Bearer sk-secret-token-123"}
    client.post(url, {**form, "headers": '{"Authorization": "Bearer new"}'})
    server.refresh_from_db()
    assert server.headers == {"Authorization": "Bearer new"}
    client.post(url, {**form, "headers": "{}"})
    server.refresh_from_db()
    assert server.headers == {}

    # Staff who may only view MCP servers see the names of the headers, never the values.
    server.headers = {"Authorization": "Bearer sk-secret-token-123"}
    server.save()
    viewer = make_user("vic", is_staff=True)
    grant(viewer, "view_mcpserver")
    client.force_login(viewer)
    page = client.get(url).content.decode()
    assert "sk-secret-token-123" not in page and "Authorization: ••••••••" in page
