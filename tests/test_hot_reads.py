"""The reads on a message's way upstream, written as SQL (chat/hot_reads.py), give what their
ORM twins give: same rows, same Python values (JSON as data, aware datetimes), same answers for
someone who may not read. CI runs this on SQLite and on PostgreSQL."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db.models import Exists, OuterRef
from django.test import Client
from django.utils import timezone

from chatsite.chat import hot_reads
from chatsite.chat.models import Account, Conversation, Turn

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


@pytest.fixture
def conversation(user):
    return Conversation.objects.create(
        owner=user, title="Plans", model="gemini-3.5-flash",
        settings={"system_instruction": "Be brief", "temperature": 0.5},
        branch={"3": 4, "shared": [1, 2]}, pinned=True,
    )  # fmt: skip


def _turns(conversation, n=3, **last):
    parent, made = None, []
    for i in range(n):
        extra = last if i == n - 1 else {}
        fields = {"status": Turn.Status.COMPLETED, "interaction_id": f"v1_{i}", **extra}
        parent = Turn.objects.create(
            conversation=conversation, parent=parent, model="gemini-3.5-flash",
            user_input=[{"type": "text", "text": f"hi {i}"}], **fields,
        )  # fmt: skip
        made.append(parent)
    return made


def test_an_owned_conversation_comes_as_the_orm_gives_it_with_owner_and_account(
    user, conversation, django_assert_num_queries
):
    Account.objects.create(user=user, language="fr", theme="dark", answer_in_language=False)
    orm = (
        Conversation.objects.select_related("owner", "owner__account")
        .filter(pk=conversation.pk, owner_id=user.pk, owner__is_active=True)
        .get()
    )
    with django_assert_num_queries(1):
        found = hot_reads.access(user.pk, conversation.pk)
        assert found is not None
        got = found.conversation
        owner, account = got.owner, got.owner.account  # no query: they came with it
    assert _fields(got) == _fields(orm)
    assert isinstance(got.settings, dict) and isinstance(got.branch, dict)
    assert timezone.is_aware(got.created_at)
    assert _fields(owner) == _fields(orm.owner)
    assert _fields(account) == _fields(orm.owner.account)
    assert account.user is owner


def test_an_owner_without_an_account_gets_the_defaults_without_a_query(
    user, conversation, django_assert_num_queries
):
    with django_assert_num_queries(1):
        got = hot_reads.access(user.pk, conversation.pk).conversation
        account = Account.for_user(got.owner)
    assert account.pk is None and account.answer_in_language is True


def test_no_conversation_for_another_person_an_inactive_one_or_a_bad_id(
    user, other_user, conversation
):
    assert hot_reads.access(other_user.pk, conversation.pk) is None
    assert hot_reads.access(user.pk, conversation.pk + 1000) is None
    assert hot_reads.access(user.pk, "1 OR 1=1") is None
    user.is_active = False
    user.save()
    assert hot_reads.access(user.pk, conversation.pk) is None


def _orm_branch_and_busy(conversation):
    unfinished = Turn.objects.filter(conversation=OuterRef("pk")).exclude(status__in=Turn.FINAL)
    rows = Conversation.objects.filter(pk=conversation.pk)
    branch, busy = rows.values_list("branch", Exists(unfinished)).get()
    return branch, busy


@pytest.mark.parametrize("last_status", [Turn.Status.COMPLETED, Turn.Status.IN_PROGRESS])
def test_branch_and_busy_agree_with_the_orm(user, conversation, last_status):
    _turns(conversation, status=last_status)
    got = hot_reads.branch_and_busy(conversation.pk)
    assert got == _orm_branch_and_busy(conversation)
    assert got[1] is (last_status == Turn.Status.IN_PROGRESS)
    assert hot_reads.access(user.pk, conversation.pk).busy is got[1]
    assert hot_reads.branch_and_busy(conversation.pk + 1000) is None


def test_lineage_rows_agree_with_the_orm_and_read_their_times_as_it_does(conversation):
    made = _turns(conversation, 4, interaction_id="")
    orm = list(
        Turn.objects.filter(conversation=conversation)
        .order_by("created_at", "pk")
        .values_list("pk", "parent_id", "interaction_id", "created_at")
    )
    rows = hot_reads.lineage_rows(conversation.pk)
    assert [r[:3] for r in rows] == [r[:3] for r in orm]
    assert [hot_reads.created_at(r[3]) for r in rows] == [r[3] for r in orm]
    assert timezone.is_aware(hot_reads.created_at(rows[0][3]))
    assert rows[-1][0] == made[-1].pk and rows[-1][2] == ""


def test_a_live_session_is_read_and_an_ended_one_is_not(user, conversation):
    client = Client()
    client.force_login(user)
    key = client.session.session_key
    row = Session.objects.get(session_key=key)
    data, ends = hot_reads.live_session(Session, key)
    assert Session.get_session_store_class()().decode(data) == row.get_decoded()
    assert ends == row.expire_date
    assert hot_reads.access(user.pk, conversation.pk, key, Session).session == (data, ends)
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert hot_reads.live_session(Session, key) is None
    assert hot_reads.live_session(Session, "no-such-key") is None
    found = hot_reads.access(user.pk, conversation.pk, key, Session)
    assert found.conversation == conversation and found.session is None  # owned, signed out
