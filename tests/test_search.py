"""Search over a person's own conversations: every word, titles, messages and replies, on the
server (SQLite FTS5 here; PostgreSQL full text when DATABASE_URL points at one)."""

import re

import pytest
from asgiref.sync import sync_to_async

from chatsite.chat import search
from chatsite.chat.models import Conversation, Turn

from .helpers import turns_in, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True, params=["few", "many"])
def _set_sizes(request, monkeypatch):
    """Every test twice: words in few conversations (sets), and words in "many" (the newest
    conversations checked one by one)."""
    if request.param == "many":
        monkeypatch.setattr(search, "CAP", 0)


def reply(text):
    return [{"type": "model_output", "content": [{"type": "text", "text": text}]}]


def conversation(owner, title, *exchanges):
    """A conversation with finished turns: (user words, reply words) each."""
    convo = Conversation.objects.create(owner=owner, title=title, model="gemini-3.5-flash")
    for said, answered in exchanges:
        turn = Turn(
            conversation=convo, status="completed", steps=reply(answered),
            user_input=[{"type": "text", "text": said}],
        )  # fmt: skip
        turn.refresh_search_text()
        turn.save()
    return convo


@pytest.fixture
def library(user, other_user):
    return {
        "tea": conversation(
            user, "Morning drinks",
            ("what is oolong?", "A partly oxidised tea from Fujian and Taiwan."),
            ("and matcha?", "Powdered green tea, whisked with hot water."),
        ),
        "bikes": conversation(user, "Bicycle repair", ("my chain slips", "Check the derailleur.")),
        "theirs": conversation(
            other_user, "Secret tea plans", ("oolong matcha", "Their own tea notes.")
        ),
    }  # fmt: skip


def titles(hits):
    return [h.conversation.title for h in hits]


def test_every_word_must_match_somewhere_in_the_conversation(user, library):
    assert titles(search.search(user, "tea")) == ["Morning drinks"]
    assert titles(search.search(user, "oolong whisked")) == ["Morning drinks"]  # two turns
    assert titles(search.search(user, "oolong derailleur")) == []
    assert titles(search.search(user, "bicycle chain")) == ["Bicycle repair"]  # title + turn


def test_words_match_as_prefixes_whatever_the_case(user, library):
    assert titles(search.search(user, "OOL")) == ["Morning drinks"]
    assert titles(search.search(user, "derail")) == ["Bicycle repair"]
    assert titles(search.search(user, "ool ea")) == []  # "ea" starts no word


def test_no_one_finds_anothers_conversations(user, other_user, library):
    assert "Secret tea plans" not in titles(search.search(user, "tea"))
    assert titles(search.search(other_user, "tea")) == ["Secret tea plans"]
    assert titles(search.search(other_user, "derailleur")) == []
    assert titles(search.search(other_user, "Morning")) == []


def test_the_result_opens_at_the_matching_turn_with_the_words_marked(user, library):
    (hit,) = search.search(user, "matcha")
    matcha = library["tea"].turns.order_by("pk").last()
    assert hit.turn_id == matcha.pk
    assert hit.url == f"/c/{library['tea'].pk}/?turn={matcha.pk}#turn-{matcha.pk}"
    assert "<mark>matcha</mark>" in hit.snippet
    (hit,) = search.search(user, "oolong whisked")
    assert hit.snippet.count("<mark>") >= 1


def test_highlighting_escapes_what_it_marks():
    marked = search.highlight("<b>tea</b> & teapots", ["tea"])
    assert marked == "&lt;b&gt;<mark>tea</mark>&lt;/b&gt; &amp; <mark>teapots</mark>"


def test_query_syntax_is_only_words(user, library):
    for query in ('"', "tea OR bike*", "NEAR(tea)", "tea:*", "!tea | x", "-tea", "'"):
        search.search(user, query)  # no error from either engine
    assert search.words_of('tea" OR (bike*)') == ["tea", "or", "bike"]


def test_deleted_and_updated_turns_are_searched_as_they_are_now(user, library):
    turn = library["bikes"].turns.get()
    turn.steps = reply("Try a new cassette.")
    turn.refresh_search_text()
    turn.save()
    assert titles(search.search(user, "derailleur")) == []
    assert titles(search.search(user, "cassette")) == ["Bicycle repair"]
    library["tea"].delete()
    assert titles(search.search(user, "oolong")) == []


def test_the_sidebar_search_answers_with_the_list(client, user, library):
    client.force_login(user)
    page = client.get("/c/search/?q=matcha", headers=HX).content.decode()
    assert page.lstrip().startswith('<div class="conversation-list" id="conversation-list">')
    assert re.findall(r'data-conversation-id="(\d+)"', page) == [str(library["tea"].pk)]
    assert "<mark>matcha</mark>" in page and "Secret" not in page
    empty = client.get(f"/c/search/?q=&current={library['bikes'].pk}", headers=HX).content.decode()
    assert 'class="group-label">Today</h2>' in empty  # the whole list again
    assert re.search(
        rf'data-conversation-id="{library["bikes"].pk}"[^>]*aria-current="page"', empty
    )
    nothing = client.get("/c/search/?q=zebra", headers=HX).content.decode()
    assert "Nothing found" in nothing and "data-conversation-id" not in nothing


def test_search_works_without_javascript(client, user, library):
    client.force_login(user)
    page = client.get("/c/search/?q=derailleur").content.decode()
    assert 'name="q"' in page and "<mark>derailleur</mark>" in page
    assert f'href="/c/{library["bikes"].pk}/?turn=' in page


def test_the_page_opens_far_back_at_the_matching_turn(client, user):
    convo = conversation(user, "long", *[(f"question {i}", "answer") for i in range(40)])
    first = convo.turns.order_by("pk").first()
    client.force_login(user)
    assert f'id="turn-{first.pk}"' not in client.get(f"/c/{convo.pk}/").content.decode()
    page = client.get(f"/c/{convo.pk}/?turn={first.pk}").content.decode()
    assert f'id="turn-{first.pk}"' in page and turns_in(page) == 40


async def test_a_finished_reply_is_searchable(async_client, user):
    await async_client.aforce_login(user)
    await async_client.post("/c/new/", {"message": "zanzibar spices"})
    turn = await Turn.objects.alatest("pk")
    await wait_for_turn(turn.pk)
    hits = await sync_to_async(search.search)(user, "zanzibar")
    assert [h.turn_id for h in hits] == [turn.pk]


def test_snippets_read_as_text_not_markdown():
    text = "**Turn 2.** You said: _rye_ and snake_case `code`"
    assert search.snippet(text, ["rye"]) == "Turn 2. You said: rye and snake_case code"


def test_search_reads_a_stored_index_and_never_recomputes_it(user, library):
    """PostgreSQL: the GIN-indexed `search_vector` column, no `to_tsvector` per row at query
    time. SQLite: FTS5 with prefix indexes, so a short prefix is one index entry."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert titles(search.search(user, "oolong matcha")) == ["Morning drinks"]
        assert titles(search.search(user, "de")) == ["Bicycle repair"]
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    if connection.vendor == "postgresql":
        assert "to_tsvector" not in sql and "search_vector" in sql
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'chat_turn_fts'")
            assert "prefix='2 3'" in cursor.fetchone()[0]


def test_a_word_in_most_conversations_and_one_in_a_single_old_one_are_both_found(user, monkeypatch):
    """The newest conversations are read first to tell a broad word (PostgreSQL); a word only
    in an old conversation is still found through the index."""
    monkeypatch.setattr(search._Postgres, "PROBE", 3)
    monkeypatch.setattr(search, "CAP", 2)
    oldest = conversation(user, "first", ("lighthouse keeper", "a common answer"))
    others = [conversation(user, f"later {n}", ("hello", "a common answer")) for n in range(5)]
    assert titles(search.search(user, "lighthouse")) == ["first"]
    assert titles(search.search(user, "common")) == [c.title for c in [*others[::-1], oldest]]
    assert titles(search.search(user, "common keeper")) == ["first"]


@pytest.mark.parametrize(
    "text, word, found",
    [
        ("Oolong tea", "oolong", True),
        ("the teapot", "tea", True),
        ("steam", "tea", False),
        ("snake_case name", "case", False),
        ("snake_case name", "snake_case", True),
        ("(tea)", "tea", True),
        ("naïve café", "café", True),
        ("ÜBER alles", "über", True),
        ("x2tea tea2", "tea", True),
        ("x2tea", "tea", False),
        ("", "tea", False),
    ],
)
def test_word_starts_are_found_as_the_highlighting_marks_them(text, word, found):
    assert search._has_word(text.lower(), word) is found
    assert bool(search._pattern([word]).search(text)) is found
