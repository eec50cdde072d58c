"""What happens between a posted message and its request upstream (issue 16, item 1): only the
reads the request needs and one write, the turn's INSERT. Counted, not timed: a count holds on
any machine (`make bench` times it)."""

import pytest

from chatsite.chat import upstream
from chatsite.chat.models import Turn

from .helpers import make_conversation, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def statements(monkeypatch):
    """Every SQL statement the process runs, in order (any thread)."""
    from django.db.backends import utils

    seen: list[str] = []
    execute = utils.CursorWrapper.execute

    def recording(self, sql, params=None):
        seen.append(sql)
        return execute(self, sql, params)

    monkeypatch.setattr(utils.CursorWrapper, "execute", recording)
    return seen


@pytest.fixture
async def before_upstream(monkeypatch, statements):
    """The statements run before the reply's request left for the API."""
    client = upstream.client()
    stream_create = client.stream_create
    cut: list[list[str]] = []

    def sending(body):
        cut.append(list(statements))
        return stream_create(body)

    monkeypatch.setattr(client, "stream_create", sending)
    return cut


async def test_a_message_goes_upstream_after_a_dozen_reads_and_one_write(
    async_client, user, before_upstream, statements
):
    convo = await make_conversation(user)
    await async_client.aforce_login(user)
    for words in ("first", "second"):  # the second continues a branch: the usual case
        statements.clear()
        before_upstream.clear()
        await async_client.post(f"/c/{convo.pk}/send/", {"message": words, "model": convo.model})
        await wait_for_turn((await Turn.objects.alatest("pk")).pk)
    [sent] = before_upstream
    # The runner's task sends the request once start_turn yields, so what start_turn does after
    # starting it (the sidebar's move) may run first: the path is everything to the INSERT.
    insert = next(i for i, s in enumerate(sent) if s.startswith('INSERT INTO "chat_turn"'))
    # The lease watcher renews running turns' leases on its own clock, whatever is being sent.
    path = [s for s in sent[: insert + 1] if '"lease_expires_at" = ' not in s]
    writes = [s for s in path if not s.lstrip().upper().startswith("SELECT")]
    assert len(writes) == 1, writes
    assert len(path) <= 12, "\n".join(s[:100] for s in path)
    assert sum('FROM "auth_user"' in s for s in path) == 1  # the person, fetched once
    assert sum('FROM "chat_account"' in s for s in path) == 1  # their account, once
