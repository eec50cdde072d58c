"""Admin review an admin would choose: usage you can see (bars, models, top people, cost, CSV),
the review workflow (reviewed, flagged, private notes, filters, every action logged), and
retention and people's data (purge, a person's export and deletion, upstream too)."""

import asyncio
import csv
import hashlib
import io
import json
import os
import time
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from chatsite.chat import retention
from chatsite.chat.models import Attachment, Conversation, Lease, ModelPrice, TranscriptRead, Turn
from chatsite.gemini import InteractionsClient

from .servers import AppProcess, app_env, manage
from .test_admin import grant, make_turn  # noqa: F401 - shared helpers of the admin tests

pytestmark = pytest.mark.django_db

USAGE = "/admin/chat/conversation/usage/"
FLASH = "gemini-3-flash-preview"


@pytest.fixture
def boss(make_user):
    return make_user("boss", is_staff=True, is_superuser=True)


def used(convo, *, days_ago=0, model=FLASH, i=0, o=0, t=0, total=None):
    """A finished turn of `convo` that used these tokens, `days_ago` days ago at noon."""
    usage = {"total_input_tokens": i, "total_output_tokens": o, "total_thought_tokens": t}
    usage = {k: v for k, v in usage.items() if v} | {"total_tokens": total or i + o + t}
    turn = Turn.objects.create(conversation=convo, status="completed", model=model, usage=usage)
    turn.refresh_search_text()
    turn.save()
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    Turn.objects.filter(pk=turn.pk).update(created_at=noon - timedelta(days=days_ago))
    return turn


@pytest.fixture
def priced():
    return ModelPrice.objects.create(
        model=FLASH, input_per_million=Decimal("1"), output_per_million=Decimal("10"),
        thinking_per_million=Decimal("100"),
    )  # fmt: skip


@pytest.fixture
def two_people(user, other_user):
    """ada: 2 turns today and 1 yesterday; mallory: 1 turn today on an unpriced model."""
    mine = Conversation.objects.create(owner=user, title="mine", model=FLASH)
    theirs = Conversation.objects.create(owner=other_user, title="theirs", model="other-model")
    used(mine, i=1000, o=100, t=10)
    used(mine, i=2000)
    used(mine, days_ago=1, i=500, o=50)
    used(theirs, model="other-model", total=70)
    return mine, theirs


@pytest.fixture
def conversation_of_ada(user):
    return Conversation.objects.create(owner=user, title="Plain", model=FLASH)


# -- usage you can see ---------------------------------------------------------------------


def test_usage_page_draws_a_bar_per_day_with_its_number_in_the_title(
    client, boss, priced, two_people
):
    client.force_login(boss)
    page = client.get(f"{USAGE}?days=7").content.decode()
    assert page.count('<g class="usage-bar">') == 14  # 7 days, tokens and turns
    today = timezone.localdate()
    assert f"<title>{today:%a %-d %b}: 3,180 tokens</title>" in page  # 1110 + 2000 + 70
    assert f"<title>{today:%a %-d %b}: 3 turns</title>" in page
    assert "Chart.js" not in page and "<script" not in page.split('id="content-main"')[1]


def test_usage_breaks_down_by_model_and_ranks_the_top_people(client, boss, priced, two_people):
    client.force_login(boss)
    report = client.get(USAGE).context["report"]
    assert [(p.label, p.total, p.turns) for p in report.top_people] == [
        ("ada", 3660, 3), ("mallory", 70, 1),
    ]  # fmt: skip
    models = {m.label: m for m in report.models}
    assert models[FLASH].input == 3500 and models[FLASH].output == 150
    assert models[FLASH].thinking == 10 and models["other-model"].unpriced == 70


def test_cost_is_estimated_from_the_price_table_per_kind_of_token(client, boss, priced, two_people):
    client.force_login(boss)
    report = client.get(USAGE).context["report"]
    # 3500 input × $1 + 150 output × $10 + 10 thinking × $100, per million
    assert report.total.cost == Decimal("0.006")
    assert report.days[-1].cost == Decimal("0.005")  # today: 3000 + 1000 + 1000
    page = client.get(USAGE).content.decode()
    assert "$0.0060" in page and "set a price" in page  # other-model has none

    priced.output_per_million = Decimal("1000")  # the admin edits the price: costs follow
    priced.save()
    assert client.get(USAGE).context["report"].total.cost == Decimal("0.1545")


def test_tokens_not_split_by_kind_are_priced_as_input(client, boss, priced, user):
    convo = Conversation.objects.create(owner=user, title="old", model=FLASH)
    used(convo, total=2_000_000)  # an older turn: only the total was kept
    client.force_login(boss)
    assert client.get(USAGE).context["report"].total.cost == Decimal("2")


def test_usage_for_one_person_shows_only_their_turns(client, boss, priced, two_people, user):
    client.force_login(boss)
    response = client.get(f"{USAGE}?user={user.pk}")
    report = response.context["report"]
    assert report.total.total == 3660 and [m.label for m in report.models] == [FLASH]
    assert "<strong>ada</strong>" in response.content.decode()


def test_cost_is_shown_per_turn_in_the_transcript_and_the_turn_list(
    client, boss, priced, two_people
):
    client.force_login(boss)
    mine, _ = two_people
    page = client.get(f"/admin/chat/conversation/{mine.pk}/change/").content.decode()
    assert "1,110 tokens (est. $0.0030)" in page  # 1000 × 1 + 100 × 10 + 10 × 100
    turns = client.get("/admin/chat/turn/").content.decode()
    assert "Est. cost" in turns and "$0.0030" in turns


def test_usage_downloads_as_csv_per_day_person_and_model(client, boss, priced, two_people):
    client.force_login(boss)
    response = client.get(f"{USAGE}?days=7&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    today = timezone.localdate().isoformat()
    ada_today = next(r for r in rows if r["person"] == "ada" and r["day"] == today)
    assert ada_today["turns"] == "2" and ada_today["total_tokens"] == "3110"
    assert ada_today["input_tokens"] == "3000" and ada_today["estimated_cost"] == "0.0050"
    unpriced = next(r for r in rows if r["person"] == "mallory")
    assert unpriced["estimated_cost"] == ""


def test_a_csv_never_starts_a_cell_with_a_formula(client, boss, make_user):
    convo = Conversation.objects.create(owner=make_user("=cmd"), title="x", model="+m")
    used(convo, model="+m", i=5)
    client.force_login(boss)
    text = client.get(f"{USAGE}?format=csv").content.decode()
    assert "'=cmd" in text and "'+m" in text and ",=cmd" not in text


def test_usage_page_needs_the_right_to_view_turns(client, make_user):
    staff = make_user("sam", is_staff=True)
    client.force_login(staff)
    assert client.get(f"{USAGE}?format=csv").status_code == 403


# -- review workflow -----------------------------------------------------------------------

SECRET = "NOTE-only-for-reviewers-7f3a"
REASON = "REASON-shared-a-password-91c2"


def review_url(convo):
    return f"/admin/chat/conversation/{convo.pk}/review/"


@pytest.fixture
def reviewed(client, boss, user):
    """ada's conversation, which boss marked reviewed, flagged and annotated."""
    convo = Conversation.objects.create(owner=user, title="Needs a look", model=FLASH)
    make_turn(convo, "my password is hunter2", "Please don't share passwords.")
    client.force_login(boss)
    for action in (
        {"action": "reviewed"},
        {"action": "flag", "reason": REASON},
        {"action": "notes", "notes": SECRET},
    ):
        assert client.post(review_url(convo), action).status_code == 302
    client.logout()
    return convo


def test_a_reviewer_marks_reviewed_flags_with_a_reason_and_keeps_notes(client, boss, reviewed):
    client.force_login(boss)
    page = client.get(f"/admin/chat/conversation/{reviewed.pk}/change/").content.decode()
    assert "Reviewed by <strong>boss</strong>" in page
    assert f"Flagged: {REASON}" in page and SECRET in page
    review = reviewed.review
    assert review.reviewed_by == boss and review.reviewed_at is not None

    client.post(review_url(reviewed), {"action": "unflag"})
    client.post(review_url(reviewed), {"action": "unreviewed"})
    reviewed.review.refresh_from_db()
    assert not reviewed.review.flagged and reviewed.review.reviewed_at is None


def test_a_flag_needs_a_reason(client, boss, conversation_of_ada):
    client.force_login(boss)
    client.post(review_url(conversation_of_ada), {"action": "flag", "reason": "  "})
    assert not hasattr(conversation_of_ada, "review") or not conversation_of_ada.review.flagged


def test_every_review_action_is_logged_like_a_read_without_reason_or_notes(client, boss, reviewed):
    reads = TranscriptRead.objects.filter(conversation=reviewed, what="review")
    assert [r.detail for r in reads.order_by("at", "pk")] == [
        "marked reviewed", "flagged", "notes saved",
    ]  # fmt: skip
    assert all(r.reader == boss and r.owner == reviewed.owner for r in reads)


def test_the_list_filters_by_reviewed_flagged_person_model_and_dates(
    client, boss, reviewed, user, other_user
):
    Conversation.objects.create(owner=other_user, title="Untouched", model="other-model")
    old = Conversation.objects.create(owner=user, title="Old one", model=FLASH)
    Conversation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    client.force_login(boss)

    def titles(query):
        response = client.get(f"/admin/chat/conversation/?{query}")
        assert response.status_code == 200, query
        return {c.title for c in response.context["cl"].result_list}

    assert titles("reviewed=yes") == {"Needs a look"}
    assert titles("reviewed=no") == {"Untouched", "Old one"}
    assert titles("flagged=yes") == {"Needs a look"}
    assert titles("flagged=no") == {"Untouched", "Old one"}
    assert titles(f"owner__id__exact={other_user.pk}") == {"Untouched"}
    assert titles("model=other-model") == {"Untouched"}
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    until = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert titles(f"started_from={since}") == {"Needs a look", "Untouched"}
    assert titles(f"started_to={until}") == {"Old one"}
    assert titles(f"started_from={since}&flagged=yes&owner__id__exact={user.pk}") == {
        "Needs a look"
    }
    page = client.get("/admin/chat/conversation/").content.decode()
    assert "icon-flag" in page and "flagged</span>" in page and "reviewed by boss" in page


def test_the_person_never_sees_admin_notes_or_flag_reasons(client, reviewed, user, make_user):
    user.is_staff = True  # even as staff who may open the admin: their own, unreviewed view
    user.save()
    grant(user, "view_conversation", "view_turn", "view_transcriptread")
    client.force_login(user)
    turn = reviewed.turns.get()
    pages = [
        "/",
        "/c/",
        f"/c/{reviewed.pk}/",
        f"/c/{reviewed.pk}/turns/{turn.pk}/",
        f"/admin/chat/conversation/{reviewed.pk}/change/",
        "/admin/chat/conversation/",
        f"/admin/chat/conversation/{reviewed.pk}/export.json",
        f"/admin/chat/conversation/{reviewed.pk}/export.md",
        f"/admin/chat/conversation/{reviewed.pk}/raw/",
        "/admin/chat/transcriptread/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert SECRET not in body and REASON not in body, url
        assert "flagged" not in body.lower(), url
    # Nor may they review their own conversation.
    response = client.post(review_url(reviewed), {"action": "notes", "notes": "mine now"})
    assert response.status_code == 403
    reviewed.review.refresh_from_db()
    assert reviewed.review.notes == SECRET


def test_only_those_who_read_others_may_review(client, make_user, reviewed):
    staff = make_user("sam", is_staff=True)
    grant(staff, "view_conversation")
    client.force_login(staff)
    assert client.post(review_url(reviewed), {"action": "reviewed"}).status_code == 404


# -- retention and people's data -----------------------------------------------------------


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def interaction(emulator, text="hello") -> str:
    """A real interaction stored by the emulator (its id, as a turn keeps it)."""

    async def create():
        async with InteractionsClient(base_url=emulator.base_url, api_key="k") as client:
            return await client.create({"model": FLASH, "input": text})

    made = asyncio.run(create())
    assert emulator.store.get(made["id"]) is not None
    return made["id"]


def attach(owner, data: bytes, name="notes.txt") -> Attachment:
    digest = hashlib.sha256(data).hexdigest()
    attachment = Attachment(owner=owner, sha256=digest, name=name, mime_type="text/plain",
                            kind="document", size=len(data))  # fmt: skip
    attachment.file.save(name, ContentFile(data), save=True)
    return attachment


def chat(owner, emulator, title, *, days_idle=0, attachment=None):
    """A conversation of two turns whose interactions the emulator stores."""
    convo = Conversation.objects.create(owner=owner, title=title, model=FLASH)
    ref = []
    if attachment is not None:
        ref = [{"type": "document", "mime_type": "text/plain", "attachment": attachment.sha256,
                "name": "notes.txt"}]  # fmt: skip
    first = interaction(emulator, f"{title} one")
    second = interaction(emulator, f"{title} two")
    turn = make_turn(convo, f"{title} one", "ok", interaction_id=first)
    Turn.objects.filter(pk=turn.pk).update(user_input=[*turn.user_input, *ref])
    make_turn(convo, f"{title} two", "ok", interaction_id=second)
    stamp = timezone.now() - timedelta(days=days_idle)
    Conversation.objects.filter(pk=convo.pk).update(updated_at=stamp)
    convo.interaction_ids = [first, second]
    return convo


@pytest.fixture
def old_and_new(user, emulator):
    """ada: one conversation idle 40 days (with an attachment only it uses) and one from today
    (with an attachment it keeps)."""
    only_old = attach(user, b"only the old conversation uses this")
    kept = attach(user, b"the new conversation uses this")
    old = chat(user, emulator, "Old", days_idle=40, attachment=only_old)
    new = chat(user, emulator, "New", attachment=kept)
    return old, new, only_old, kept


def test_retention_is_off_by_default(settings, old_and_new):
    assert settings.RETENTION_DAYS == 0
    out = io.StringIO()
    call_command("purge", stdout=out)
    assert "off" in out.getvalue() and Conversation.objects.count() == 2


def test_a_dry_run_says_what_it_would_remove_and_removes_nothing(settings, emulator, old_and_new):
    settings.RETENTION_DAYS = 30
    old, new, only_old, kept = old_and_new
    out = io.StringIO()
    call_command("purge", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Would remove" in text and "1 conversation(s), 2 turn(s)" in text
    assert "2 upstream interaction(s), 1 attachment(s)" in text
    assert f"conversation {old.pk}" in text and f"conversation {new.pk}" not in text
    assert Conversation.objects.count() == 2 and Attachment.objects.count() == 2
    assert all(emulator.store.get(i) for i in old.interaction_ids)


def test_purge_removes_old_conversations_their_attachments_and_interactions_upstream(
    settings, emulator, old_and_new
):
    settings.RETENTION_DAYS = 30
    old, new, only_old, kept = old_and_new
    old_file = only_old.file.path
    call_command("purge", stdout=io.StringIO())
    assert list(Conversation.objects.values_list("title", flat=True)) == ["New"]
    assert not Turn.objects.filter(conversation_id=old.pk).exists()
    assert list(Attachment.objects.all()) == [kept] and not os.path.exists(old_file)
    assert os.path.exists(kept.file.path)
    assert all(emulator.store.get(i) is None for i in old.interaction_ids)  # gone upstream
    assert all(emulator.store.get(i) for i in new.interaction_ids)


def test_an_upstream_failure_is_logged_and_the_local_data_still_goes(
    settings, emulator, old_and_new, caplog
):
    settings.RETENTION_DAYS = 30
    settings.GEMINI_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.GEMINI_MAX_RETRIES = 0
    result = retention.purge()
    assert result.upstream_failed == 2 and Conversation.objects.count() == 1
    assert "upstream delete of an interaction failed" in caplog.text


def test_the_daily_purge_runs_in_one_process_once_a_day(settings, old_and_new):
    settings.RETENTION_DAYS = 30
    assert retention.run_if_due("process-a") is not None  # due: a takes it and purges
    assert retention.run_if_due("process-b") is None  # done today: nobody runs it again
    assert Conversation.objects.count() == 1

    lease = Lease.objects.get(name="purge")
    lease.last_run_at = timezone.now() - timedelta(days=1, minutes=1)
    lease.save()
    now = timezone.now()
    assert retention.take_turn("process-a", now) is True  # a day later: one of them takes it
    assert retention.take_turn("process-b", now) is False  # while a holds it, b does not
    retention.done("process-a")


def test_the_daily_purge_does_nothing_when_retention_is_off(old_and_new):
    assert retention.run_if_due("process-a") is None
    assert Conversation.objects.count() == 2 and not Lease.objects.exists()


USERS = "/admin/auth/user/"


def act(client, action, person, **extra):
    return client.post(USERS, {"action": action, "_selected_action": [person.pk], **extra})


def test_an_admin_exports_everything_of_a_person_as_a_zip_and_it_is_logged(
    client, boss, user, old_and_new
):
    old, new, only_old, kept = old_and_new
    client.force_login(boss)
    response = act(client, "export_everything", user)
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {f"conversations/{old.pk}.json", f"conversations/{new.pk}.md", "person.json"} <= names
    assert archive.read(f"attachments/{kept.sha256}") == b"the new conversation uses this"
    data = json.loads(archive.read(f"conversations/{old.pk}.json"))
    assert "Old one" in json.dumps(data)
    logged = TranscriptRead.objects.filter(reader=boss, owner=user, what="person-export")
    assert logged.count() == 2


def test_an_admin_deletes_a_person_with_all_their_data_upstream_too(
    client, boss, user, other_user, emulator, old_and_new
):
    old, new, only_old, kept = old_and_new
    theirs = chat(other_user, emulator, "Someone else's")
    client.force_login(boss)
    confirm = act(client, "delete_with_data", user)
    assert confirm.status_code == 200 and "2 conversations with 4 turns" in confirm.content.decode()
    assert User.objects.filter(pk=user.pk).exists()  # nothing removed before the confirmation

    response = act(client, "delete_with_data", user, confirm="yes")
    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Conversation.objects.filter(owner_id=user.pk).exists()
    assert not Attachment.objects.filter(owner_id=user.pk).exists()
    for i in old.interaction_ids + new.interaction_ids:
        assert emulator.store.get(i) is None  # the emulator's store no longer has them
    assert all(emulator.store.get(i) for i in theirs.interaction_ids)
    entry = LogEntry.objects.get(object_id=str(user.pk), action_flag=DELETION)
    assert entry.user == boss and "2 conversation(s)" in entry.change_message


def test_people_actions_need_a_reader_who_may_delete_accounts(client, make_user, user):
    staff = make_user("sam", is_staff=True)
    grant_auth(staff, "view_user", "delete_user")
    client.force_login(staff)
    page = client.get(USERS).content.decode()
    assert "delete_with_data" not in page and "export_everything" not in page
    act(client, "delete_with_data", user, confirm="yes")
    assert User.objects.filter(pk=user.pk).exists()


def grant_auth(user, *codenames):
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="auth", codename=codename)
        )


COUNT = "from chatsite.chat.models import Conversation; print(Conversation.objects.count())"
OLD = (
    "from datetime import timedelta; from django.utils import timezone; "
    "from django.contrib.auth.models import User; from chatsite.chat.models import Conversation; "
    "u = User.objects.create_user('old'); c = Conversation.objects.create(owner=u, model='m'); "
    "Conversation.objects.filter(pk=c.pk).update(updated_at=timezone.now() - timedelta(days=3)); "
    "Conversation.objects.create(owner=u, model='m', title='fresh')"
)


def count(env) -> int:
    return int(manage(env, "shell", "-c", COUNT).split()[-1])


def test_the_app_purges_by_itself_when_retention_is_set(tmp_path, emulator):
    """The daily purge starts with the app (daphne), not only from cron."""
    env = app_env(tmp_path, emulator.base_url, RETENTION_DAYS="1")
    env.pop("DATABASE_URL", None)  # its own SQLite database
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", OLD)
    assert count(env) == 2
    app = AppProcess(env, tmp_path / "daphne.log")
    try:
        deadline = time.monotonic() + 60
        while count(env) != 1:
            assert time.monotonic() < deadline, (tmp_path / "daphne.log").read_text()
            time.sleep(0.5)
    finally:
        app.stop()


def test_usage_ignores_kinds_of_tokens_that_are_not_whole_numbers(client, boss, priced, user):
    convo = Conversation.objects.create(owner=user, title="odd", model=FLASH)
    turn = Turn.objects.create(conversation=convo, status="completed", model=FLASH, usage={
        "total_input_tokens": "12; drop", "total_output_tokens": 2.5,
        "total_thought_tokens": -4, "total_tokens": 40,
    })  # fmt: skip
    turn.refresh_search_text()
    turn.save()
    used(convo, i=10)
    client.force_login(boss)
    report = client.get(USAGE).context["report"]
    assert (report.total.input, report.total.output, report.total.thinking) == (10, 0, 0)
    assert report.total.total == 50
