"""The reads on a message's way upstream, written as SQL (chat/hot_reads.py), give what their
ORM twins give: same rows, same Python values (JSON as data, aware datetimes), same answers for
someone who may not read. CI runs this on SQLite and on PostgreSQL."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db.models import Exists, Max, OuterRef
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
    turns = Turn.objects.filter(conversation=conversation)
    return branch, busy, (turns.count(), turns.aggregate(last=Max("pk"))["last"])


@pytest.mark.parametrize("last_status", [Turn.Status.COMPLETED, Turn.Status.IN_PROGRESS])
def test_branch_busy_and_mark_agree_with_the_orm(user, conversation, last_status):
    assert hot_reads.branch_and_busy(conversation.pk)[2] == (0, None)
    _turns(conversation, status=last_status)
    got = hot_reads.branch_and_busy(conversation.pk)
    assert got == _orm_branch_and_busy(conversation)
    assert got[1] is (last_status == Turn.Status.IN_PROGRESS)
    found = hot_reads.access(user.pk, conversation.pk)
    assert (found.busy, found.mark) == got[1:]
    assert hot_reads.branch_and_busy(conversation.pk + 1000) is None


def test_tree_pairs_agree_with_the_orm(conversation):
    _turns(conversation, 4)
    orm = Turn.objects.filter(conversation=conversation).order_by("created_at", "pk")
    assert hot_reads.tree_pairs(conversation.pk) == list(orm.values_list("pk", "parent_id"))


def test_the_chain_is_the_parents_interaction_else_the_nearest_ancestors(conversation):
    first, second, third = _turns(conversation, 3, interaction_id=None)  # the last never sent
    assert hot_reads.chained(second.pk) == ("v1_1", second.created_at)
    assert hot_reads.chained(third.pk) == ("v1_1", second.created_at)
    assert timezone.is_aware(hot_reads.chained(first.pk)[1])
    assert hot_reads.chained(None) == (None, None)
    Turn.objects.filter(pk__in=[first.pk, second.pk]).update(interaction_id=None)
    assert hot_reads.chained(third.pk) == (None, None)


def test_the_likely_parent_read_with_access_is_the_chains_row(
    user, conversation, django_assert_num_queries
):
    first, second, third = _turns(conversation, 3, interaction_id=None)
    found = hot_reads.access(user.pk, conversation.pk, parent=second.pk)
    orm = Turn.objects.values_list("parent_id", "interaction_id", "created_at").get(pk=second.pk)
    assert found.parent == (second.pk, orm)
    assert timezone.is_aware(found.parent[1][2])
    with django_assert_num_queries(0):  # the chain needs nothing more
        assert hot_reads.chained(second.pk, found.parent) == ("v1_1", second.created_at)
    # A parent that never reached the API: the walk goes on from its row to the ancestors'.
    found = hot_reads.access(user.pk, conversation.pk, parent=third.pk)
    with django_assert_num_queries(1):
        assert hot_reads.chained(third.pk, found.parent) == ("v1_1", second.created_at)
    # A guess that is not the parent, or no guess: read as before.
    with django_assert_num_queries(1):
        assert hot_reads.chained(second.pk, (first.pk, ("x",))) == ("v1_1", second.created_at)
    assert hot_reads.access(user.pk, conversation.pk).parent is None


def test_a_likely_parent_from_another_conversation_is_not_read(user, conversation):
    other = Conversation.objects.create(owner=user, title="Other", model="gemini-3.5-flash")
    [theirs] = _turns(other, 1)
    found = hot_reads.access(user.pk, conversation.pk, parent=theirs.pk)
    assert found is not None and found.parent is None


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


def test_the_top_of_the_list_agrees_with_the_orm_and_the_move_is_stored(user, django_user_model):
    other = django_user_model.objects.create_user("someone-else")
    made = {}
    for name, owner, extra in [
        ("old", user, {}), ("top", user, {}), ("pinned", user, {"pinned": True}),
        ("archived", user, {"archived": True}), ("theirs", other, {}),
    ]:  # fmt: skip
        made[name] = Conversation.objects.create(owner=owner, title=name, model="m", **extra)
    mine = Conversation.objects.filter(owner=user, archived=False, pinned=False)
    orm = mine.only("pk", "updated_at").order_by("-updated_at").first()
    now = timezone.now() + timedelta(minutes=5)
    got = hot_reads.to_top(made["old"].pk, user.pk, now)
    assert orm.pk == made["top"].pk  # neither the pinned, the archived nor theirs, all newer
    assert (got.pk, got.updated_at) == (orm.pk, orm.updated_at)
    assert got.updated_at.tzinfo is not None
    assert Conversation.objects.get(pk=made["old"].pk).updated_at == now  # it moved up
    assert hot_reads.to_top(made["top"].pk, user.pk, now).pk == made["old"].pk
