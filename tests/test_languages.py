"""Every language of the guides (issue 14): complete catalogs, every string marked, the language
a page is in (the person's choice, else Accept-Language, else English), the account page, and
answers in the person's language through the real emulator."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone, translation
from django.utils.functional import Promise

from chatsite.chat import forms as chat_forms
from chatsite.chat.language import answer_line
from chatsite.chat.management.commands.compile_catalogs import compile_all
from chatsite.chat.models import Account, Conversation, Turn
from chatsite.chat.rendering import render_steps
from chatsite.chat.rendering.activity import summary_text

from .helpers import is_status, make_conversation, model_text, wait_for_turn
from .test_hardening_sockets import closed_with, open_signed_in_tab  # noqa: F401

ROOT = Path(settings.BASE_DIR)
TEMPLATES = ROOT / "templates"
TRANSLATED = [code for code, _ in settings.LANGUAGES if code != "en"]
RTL = {"he", "fa"}
# One word of each language's sign-in page: proof that the page is translated, not only tagged.
SIGN_IN = {"en": "Sign in", "ru": "Войти", "he": "התחברות", "vi": "Đăng nhập", "fa": "ورود",
           "it": "Accedi"}  # fmt: skip


@pytest.fixture(autouse=True)
def back_to_english():
    """A request here leaves its language active in this thread: the next test starts without."""
    yield
    translation.deactivate()


def catalog(code: str) -> polib.POFile:
    return polib.pofile(str(ROOT / "locale" / code / "LC_MESSAGES" / "django.po"))


# -- catalogs --------------------------------------------------------------------------------
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")


def placeholders(text: str) -> list[str]:
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text))


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_catalog_is_complete_with_no_fuzzy_entry(code):
    po = catalog(code)
    assert po.untranslated_entries() == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert po.percent_translated() == 100


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_translation_keeps_its_placeholders(code):
    """A translation that drops or renames %(name)s breaks the page at render time."""
    for entry in catalog(code).translated_entries():
        if entry.msgid_plural:
            wanted = placeholders(entry.msgid_plural)
            for form in entry.msgstr_plural.values():
                # A language's singular form may spell "one" out instead of using the number.
                assert set(placeholders(form)) <= set(wanted), (entry.msgid, form)
        else:
            assert placeholders(entry.msgstr) == placeholders(entry.msgid), entry.msgid


def test_the_catalogs_compile_with_polib(tmp_path):
    """The set-up compiles without GNU gettext (`manage.py compile_catalogs`)."""
    root = tmp_path / "locale"
    (root / "he" / "LC_MESSAGES").mkdir(parents=True)
    source = ROOT / "locale" / "he" / "LC_MESSAGES" / "django.po"
    (root / "he" / "LC_MESSAGES" / "django.po").write_bytes(source.read_bytes())
    written = compile_all([root])
    assert written == [root / "he" / "LC_MESSAGES" / "django.mo"]
    mo = polib.mofile(str(written[0]))
    assert mo.find("Sign in").msgstr == SIGN_IN["he"]
    assert compile_all([root]) == []  # up to date: nothing rewritten


# -- every string marked ---------------------------------------------------------------------
# Visible text that is not words to translate: the brand, format and product names.
NOT_WORDS = {"chatsite", "Markdown", "JSON", "Google Maps", "Ctrl K"}
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "label"}
SKIPPED_ELEMENTS = {"script", "style", "code", "pre"}
WORD = re.compile(r"[^\W\d_]{2,}")
LITERAL = re.compile(r"""(?<![_\w])["']([^"']*)["']""")
COMMENTS = re.compile(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}|\{#.*?#\}", re.S)
BLOCK_TRANSLATE = re.compile(
    r"\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}", re.S
)
TAG = re.compile(r"\{%.*?%\}", re.S)
VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.S)
MARKED = re.compile(r"""_\(\s*("[^"]*"|'[^']*')\s*\)""")
# Filter arguments that are formats or ids, not words.
TECHNICAL = re.compile(r"""\|(json_script|date|time):("[^"]*"|'[^']*')""")
ASSIGNED = re.compile(r"""=\s*("[^"]*"|'[^']*')""")


def _words(text: str) -> bool:
    text = MARKED.sub(" ", text)  # `_("…")`: marked in a tag's argument
    for name in NOT_WORDS:
        text = text.replace(name, " ")
    return bool(WORD.search(text))


class _Unmarked(HTMLParser):
    """Text and visible attributes with words in them; `{{ … }}` arrive as ⟦n⟧ markers whose
    string literals (a `|default:"…"`) count as text."""

    def __init__(self, variables):
        super().__init__(convert_charrefs=True)
        self.variables, self.found, self.skipping = variables, [], []

    def _check(self, text):
        for n in re.findall(r"⟦(\d+)⟧", text):
            code = TECHNICAL.sub(" ", MARKED.sub(" ", self.variables[int(n)]))
            self.found += [lit for lit in LITERAL.findall(code) if _words(lit)]
        rest = re.sub(r"⟦\d+⟧", " ", text)
        if _words(rest):
            self.found.append(" ".join(rest.split()))

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_ELEMENTS:
            self.skipping.append(tag)
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self._check(value)
        if tag == "input" and dict(attrs).get("type") in {"submit", "button"}:
            self._check(dict(attrs).get("value") or "")

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        if not self.skipping:
            self._check(data)


def unmarked_strings(source: str) -> list[str]:
    source = BLOCK_TRANSLATE.sub(" ", COMMENTS.sub(" ", source))
    variables: list[str] = []

    def marker(match):
        variables.append(match.group(1))
        return f"⟦{len(variables) - 1}⟧"

    source = VARIABLE.sub(marker, source)
    # Other tags go, but the words a tag writes (`{% firstof a "Untitled" %}`) or hands on
    # (`{% include … with caption="Tokens" %}`) are kept for the check.
    for tag in TAG.findall(source):
        if re.match(r"\{%\s*(translate|trans)\b", tag):
            source = source.replace(tag, " ", 1)
            continue
        written = ""
        if re.match(r"\{%\s*firstof\b", tag):
            written = tag
        elif re.match(r"\{%\s*(include|with)\b", tag):
            written = " ".join(ASSIGNED.findall(tag))
        variables.append(written)
        source = source.replace(tag, f"⟦{len(variables) - 1}⟧", 1)
    parser = _Unmarked(variables)
    parser.feed(source)
    return parser.found


def test_the_scanner_finds_unmarked_text_and_passes_marked_text():
    assert unmarked_strings("<p>Hello {{ name }}</p>") == ["Hello"]
    assert unmarked_strings('<button title="Close">✕</button>') == ["Close"]
    assert unmarked_strings('<b>{{ title|default:"Untitled" }}</b>') == ["Untitled"]
    assert unmarked_strings('{% firstof title "Untitled" %}') == ["Untitled"]
    assert unmarked_strings('<p>{% translate "Hello" %} · {{ n }} / {{ m }}</p>') == []
    assert unmarked_strings("{% blocktranslate %}Hi {{ name }}{% endblocktranslate %}") == []
    assert unmarked_strings('<input type="hidden" name="on" value="yes">') == []
    assert unmarked_strings("<code>GEMINI_API_KEY</code> <kbd>Ctrl K</kbd>") == []
    assert unmarked_strings('{% include "a.html" with caption="Per day" %}') == ["Per day"]
    assert unmarked_strings('{% extends "admin/base.html" %}{% url "home" %}') == []


@pytest.mark.parametrize(
    "template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
)
def test_every_template_string_is_marked_for_translation(template):
    assert unmarked_strings((TEMPLATES / template).read_text()) == []


TEMPLATE_MSGID = re.compile(r"""\{%\s*trans(?:late)?\s+(?:"([^"]+)"|'([^']+)')""")
CODE_MSGID = re.compile(r"""\b_\(\s*"((?:[^"\\]|\\.)+)"\s*\)""")


def marked_literals() -> set[str]:
    found = set()
    for path in TEMPLATES.rglob("*.html"):
        found |= {a or b for a, b in TEMPLATE_MSGID.findall(path.read_text())}
    for path in (ROOT / "chatsite").rglob("*.py"):
        found |= set(CODE_MSGID.findall(path.read_text()))
    return found


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_marked_string_is_in_the_catalog(code):
    """Marked but never extracted (`make messages` not run) would stay English for everyone."""
    ids = {e.msgid for e in catalog(code)}
    assert sorted(marked_literals() - ids) == []


def test_form_labels_and_choices_are_marked_for_translation():
    for form in (chat_forms.ComposerForm(), chat_forms.AccountForm()):
        for name, field in form.fields.items():
            if field.label:
                assert isinstance(field.label, Promise), (type(form).__name__, name)
    levels = dict(chat_forms.THINKING_LEVELS)
    assert all(isinstance(label, Promise) for label in levels.values())


# -- which language a page is in -------------------------------------------------------------
def html_tag(response) -> str:
    return re.search(r"<html[^>]*>", response.content.decode()).group(0)


@pytest.mark.django_db
@pytest.mark.parametrize("code", [code for code, _ in settings.LANGUAGES])
@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/"])
def test_accept_language_picks_the_language_of_the_sign_in_pages(client, code, url):
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=f"{code},en;q=0.5")
    direction = "rtl" if code in RTL else "ltr"
    assert f'lang="{code}" dir="{direction}"' in html_tag(response)
    if url.endswith("login/"):
        assert SIGN_IN[code] in response.content.decode()


@pytest.mark.django_db
def test_english_when_the_browser_asks_for_nothing_we_speak(client):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de-DE,ja;q=0.8")
    assert 'lang="en" dir="ltr"' in html_tag(response)


@pytest.fixture
def account_in(user):
    def save(language="", **extra):
        account = Account.for_user(user)
        account.language = language
        for key, value in extra.items():
            setattr(account, key, value)
        account.save()
        return account

    return save


@pytest.mark.django_db
def test_the_persons_choice_beats_the_browsers_language(client, user, account_in):
    account_in("fa")
    client.force_login(user)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ru")
    assert 'lang="fa" dir="rtl"' in html_tag(response)
    assert "گفت‌وگوی تازه" in response.content.decode()  # "New chat"


@pytest.mark.django_db
def test_no_choice_follows_the_browser_on_the_conversation_page(client, user, account_in):
    account_in("")
    client.force_login(user)
    convo = Conversation.objects.create(owner=user, title="שלום", model="gemini-3.5-flash")
    response = client.get(convo.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="he")
    assert 'lang="he" dir="rtl"' in html_tag(response)
    assert '<h1 id="conversation-title" dir="auto">שלום</h1>' in response.content.decode()


@pytest.mark.django_db
def test_sidebar_dates_and_token_counts_are_localised(client, user, account_in):
    account_in("ru")
    client.force_login(user)
    convo = Conversation.objects.create(owner=user, title="t", model="gemini-3.5-flash")
    Conversation.objects.filter(pk=convo.pk).update(
        updated_at=timezone.now() - timezone.timedelta(days=1)
    )
    Turn.objects.create(
        conversation=convo, user_input=[{"type": "text", "text": "hi"}], status="completed",
        total_tokens=12345, usage={"total_tokens": 12345},
    )  # fmt: skip
    page = client.get(convo.get_absolute_url()).content.decode()
    assert '<h2 class="group-label">Вчера</h2>' in page  # "Yesterday"
    assert "12\xa0345 токенов" in page  # Russian groups thousands with a no-break space
    listing = client.get("/c/").content.decode()
    assert "1\xa0день назад" in listing  # "1 day ago"


# -- the account page ------------------------------------------------------------------------
@pytest.mark.django_db
def test_settings_page_saves_language_theme_model_and_answer_switch(client, user):
    client.force_login(user)
    page = client.get("/accounts/settings/").content.decode()
    for name in ("language", "theme", "default_model"):
        assert f'name="{name}"' in page
    response = client.post(
        "/accounts/settings/",
        {"form": "preferences", "language": "he", "theme": "dark",
         "default_model": "gemini-3.1-pro-preview"},
    )  # fmt: skip
    assert response.status_code == 302
    account = Account.objects.get(user=user)
    assert (account.language, account.theme, account.default_model) == (
        "he", "dark", "gemini-3.1-pro-preview",
    )  # fmt: skip
    assert account.answer_in_language is False  # the box was left unticked
    after = client.get("/accounts/settings/")
    assert 'lang="he" dir="rtl" data-theme="dark"' in html_tag(after)
    assert "ההגדרות שלך נשמרו" in after.content.decode()  # "Your settings are saved."


@pytest.mark.django_db
def test_settings_page_refuses_a_language_or_model_the_site_does_not_offer(client, user):
    client.force_login(user)
    response = client.post(
        "/accounts/settings/",
        {"form": "preferences", "language": "de", "theme": "dark", "default_model": "gpt-9"},
    )
    assert response.status_code == 422
    assert not Account.objects.filter(user=user).exists()


@pytest.mark.django_db(transaction=True)
async def test_a_new_conversation_starts_with_the_persons_default_model(
    async_client, user, account_in
):
    await sync_to_async(account_in)("", default_model="gemini-3.1-pro-preview")
    await async_client.aforce_login(user)
    page = (await async_client.get("/")).content.decode()
    assert '<option value="gemini-3.1-pro-preview" selected>' in page
    # A post without a model (a script) gets it too.
    assert (await async_client.post("/c/new/", {"message": "hello"})).status_code == 302
    convo = await Conversation.objects.aget(owner=user)
    assert convo.model == "gemini-3.1-pro-preview"
    await wait_for_turn((await Turn.objects.aget(conversation=convo)).pk)


@pytest.mark.django_db(transaction=True)
async def test_password_change_keeps_this_sign_in_and_ends_the_others_and_their_sockets(
    user,
    password,
    open_signed_in_tab,  # noqa: F811
):
    convo = await make_conversation(user)
    other_tab, other_key = await open_signed_in_tab(user, convo.pk)

    def change():
        client = Client()
        client.force_login(user)
        new = "a brand new pass phrase 91"
        response = client.post(
            "/accounts/settings/",
            {"form": "password", "old_password": password, "new_password1": new,
             "new_password2": new},
        )  # fmt: skip
        assert response.status_code == 302
        return client.get("/accounts/settings/").status_code, client.session.session_key

    status, kept = await sync_to_async(change)()
    assert status == 200  # this browser is still signed in
    assert await closed_with(other_tab, 1.0) == 4401  # the other one's socket closed
    keys = [s.session_key async for s in Session.objects.filter(expire_date__gt=timezone.now())]
    assert keys == [kept] and other_key not in keys


@pytest.mark.django_db
def test_a_wrong_old_password_changes_nothing(client, user, password):
    client.force_login(user)
    response = client.post(
        "/accounts/settings/",
        {"form": "password", "old_password": "nope", "new_password1": "x long pass 1234",
         "new_password2": "x long pass 1234"},
    )  # fmt: skip
    assert response.status_code == 422
    user.refresh_from_db()
    assert user.check_password(password)


# -- answers in the person's language --------------------------------------------------------
def test_answer_line_only_for_a_chosen_language_other_than_english():
    assert answer_line(Account(language="he")) == "Answer in Hebrew unless asked otherwise."
    assert answer_line(Account(language="fa")) == "Answer in Persian unless asked otherwise."
    assert answer_line(Account(language="he", answer_in_language=False)) == ""
    assert answer_line(Account(language="en")) == ""
    assert answer_line(Account(language="")) == ""
    assert answer_line(None) == ""


@pytest.mark.django_db(transaction=True)
async def test_the_request_asks_for_hebrew_and_the_emulator_answers_in_hebrew(
    async_client, user, account_in, emulator
):
    await sync_to_async(account_in)("he")
    await async_client.aforce_login(user)
    form = {"message": "What is an interaction?", "settings_form": "1",
            "system_instruction": "Be brief."}  # fmt: skip
    assert (await async_client.post("/c/new/", form)).status_code == 302
    turn = await Turn.objects.aget(conversation__owner=user)
    turn = await wait_for_turn(turn.pk)
    body = emulator.store.get(turn.interaction_id).request
    assert body["system_instruction"] == ("Be brief.\n\nAnswer in Hebrew unless asked otherwise.")
    text = model_text(turn.steps)
    assert text.startswith("אני עונה בעברית")
    assert "What is an interaction?" in text


@pytest.mark.django_db(transaction=True)
async def test_switched_off_the_request_has_no_language_line(
    async_client, user, account_in, emulator
):
    await sync_to_async(account_in)("it", answer_in_language=False)
    await async_client.aforce_login(user)
    assert (await async_client.post("/c/new/", {"message": "ciao"})).status_code == 302
    turn = await wait_for_turn((await Turn.objects.aget(conversation__owner=user)).pk)
    assert "system_instruction" not in emulator.store.get(turn.interaction_id).request
    assert model_text(turn.steps).startswith("**Turn 1.**")


@pytest.mark.django_db(transaction=True)
async def test_a_reply_streamed_to_a_hebrew_page_arrives_in_hebrew(user, account_in, open_tab):
    """The runner renders the frames (buttons, notes) in the language of the page that sent
    the message, not the server's default."""
    await sync_to_async(account_in)("he", answer_in_language=False)
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": "hello"})
    await tab.receive_until(lambda f: is_status(f, "completed"), timeout=20)
    finished = [json.loads(f) for f in tab.frames if f.startswith('{"status"') and '"meta"' in f]
    assert finished, tab.frames[-3:]
    tokens = finished[-1]["meta"]["tokens"]
    assert "טוקנים" in tokens and "tokens" not in tokens  # the answer's token count


@pytest.mark.django_db(transaction=True)
async def test_a_socket_without_a_choice_follows_the_browsers_language():
    from chatsite.chat.language import for_socket

    scope = {"headers": [(b"accept-language", b"fa-IR,fa;q=0.9,en;q=0.5")]}
    assert await for_socket(scope) == "fa"
    assert await for_socket({"headers": [(b"accept-language", b"de")]}) == "en"


SCRIPT_CALL = re.compile(r"""chatsiteText\(\s*"((?:[^"\\]|\\.)*)\"""")


def test_every_text_a_script_writes_is_handed_to_it_translated():
    """Scripts take their words from #script-text (context.SCRIPT_TEXT), never their own."""
    from chatsite.chat.context import SCRIPT_TEXT

    used = set()
    for path in (ROOT / "static" / "chatsite").glob("*.js"):
        used |= set(SCRIPT_CALL.findall(path.read_text()))
    assert used and sorted(used - set(SCRIPT_TEXT)) == []


@pytest.mark.django_db
def test_a_hebrew_page_hands_its_scripts_hebrew_words(client, user, account_in):
    account_in("he")
    client.force_login(user)
    page = client.get("/").content.decode()
    table = re.search(r'<script id="script-text" type="application/json">(.*?)</script>', page)
    assert json.loads(table.group(1))["Copied"] == "הועתק"


@pytest.mark.django_db
def test_the_admin_speaks_the_persons_language_right_to_left(client, make_user):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    Account.objects.create(user=boss, language="fa")
    client.force_login(boss)
    response = client.get("/admin/")
    assert 'lang="fa" dir="rtl"' in html_tag(response)
    usage = client.get("/admin/chat/conversation/usage/").content.decode()
    assert "مصرف توکن" in usage  # "Token usage", the admin page of our own


@pytest.mark.django_db(transaction=True)
async def test_the_sidebar_a_socket_sends_is_in_the_persons_language(user, account_in):
    """Each socket renders the list for its own tab: in that tab's language."""
    from .conftest import session_cookie_for, socket_tab

    await sync_to_async(account_in)("he")
    cookie = await sync_to_async(session_cookie_for)(user)
    socket = socket_tab("/ws/u/", cookie).ws
    connected, _ = await socket.connect()
    assert connected
    frame = await socket.receive_from(timeout=5)
    assert "עדיין אין שיחות." in frame  # "No conversations yet."
    await socket.disconnect()


# -- words added by the other issues, in the person's language --------------------------------
def test_activity_summaries_use_each_languages_plural_forms():
    searches = ["thought", "google_search_call", "google_search_result"]
    with translation.override("ru"):
        assert summary_text(searches * 3, running=False) == "Искал · 3 поиска"
        assert summary_text(searches * 5, running=False) == "Искал · 5 поисков"
        assert summary_text(searches * 21, running=True) == "Ищет · 21 поиск"
    with translation.override("he"):
        assert summary_text(searches, running=False) == "חיפש · חיפוש אחד"
    with translation.override("en"):
        assert summary_text(searches * 3, running=False) == "Researched · 3 searches"


@pytest.mark.django_db
def test_a_russian_page_hands_its_scripts_every_plural_form(client, user, account_in):
    """activity.js picks the form by Intl.PluralRules' category of the count (chatsitePlural)."""
    account_in("ru")
    client.force_login(user)
    page = client.get("/").content.decode()
    table = re.search(r'<script id="script-plurals" type="application/json">(.*?)</script>', page)
    searches = json.loads(table.group(1))["search"]
    assert (searches["one"], searches["few"], searches["many"]) == (
        "%(count)s поиск", "%(count)s поиска", "%(count)s поисков",
    )  # fmt: skip


def test_the_words_activity_js_counts_and_the_retry_reasons_reach_the_scripts():
    from chatsite.chat.context import SCRIPT_TEXT
    from chatsite.chat.rendering.activity import NOUNS, OTHER_VERBS, THOUGHT_VERBS
    from chatsite.chat.retry_notes import ANSWERED_WITH_ERROR, DROPPED, REASONS

    with translation.override("en"):
        verbs = {str(v) for _n, _w, *pair in NOUNS for v in pair} | {
            str(v) for v in THOUGHT_VERBS + OTHER_VERBS
        }
    reasons = {*REASONS.values(), DROPPED, ANSWERED_WITH_ERROR}
    assert sorted((verbs | reasons) - set(SCRIPT_TEXT)) == []
    script = (ROOT / "static" / "chatsite" / "activity.js").read_text()
    nouns = set(re.findall(r'\["([a-z]+)", "[A-Z]', script))
    assert nouns == {noun for noun, *_ in NOUNS}


@pytest.mark.django_db
def test_composer_chips_and_card_labels_are_in_the_pages_language():
    form = chat_forms.ComposerForm(
        initial={"thinking_level": "high", "tools": ["google_search"], "max_output_tokens": 2000}
    )
    with translation.override("it"):
        assert [chip["text"] for chip in form.chips()] == [
            "Cerca", "Ragionamento: alto", "Max 2000 token",
        ]  # fmt: skip
    call = {"type": "google_search_call", "id": "g1", "arguments": {"queries": ["tea"]}}
    with translation.override("he"):
        assert "חיפש ב־Google" in render_steps([call], turn_id=1)


@pytest.mark.django_db
def test_a_hebrew_conversation_page_translates_the_merged_controls(client, user, account_in):
    account_in("he")
    client.force_login(user)
    convo = Conversation.objects.create(owner=user, title="t", model="gemini-3.5-flash")
    page = client.get(convo.get_absolute_url()).content.decode()
    for words in ("דילוג לתיבת ההודעה", 'aria-label="ערכת נושא: לפי המערכת"',
                  "צ׳אט חדש", "בארכיון", ">שליחה<", "לא בשימוש אצל סוכנים", "מתקדם",
                  'data-copied="הועתק"'):  # fmt: skip
        assert words in page, words
    # The meta line a reply gets when it ends live is drawn from the page's own template.
    template = page[page.index('<template id="answer-actions">') :]
    assert ">העתקה<" in template and ">Copy<" not in template


@pytest.mark.django_db
def test_the_markdown_export_stays_english_for_a_hebrew_reader(user):
    """The export's own words are English; the card labels it borrows follow them, not the page."""
    from chatsite.chat.exports import conversation_markdown

    from .test_exports import turn

    convo = Conversation.objects.create(owner=user, title="t", model="gemini-3.5-flash")
    steps = [
        {"type": "function_call", "id": "f1", "name": "get_weather", "arguments": {}},
        {"type": "function_result", "call_id": "f1", "result": {"temp": 21}},
    ]
    turn(convo, "Weather?", steps)
    with translation.override("he"):
        text = conversation_markdown(convo)
    assert "> Result of get\\_weather: " in text
