from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from .rendering.activity import NOUNS
from .retry_notes import ANSWERED_WITH_ERROR, DROPPED, REASONS

# What the scripts write into the page (static/chatsite/*.js, through i18n.js's chatsiteText):
# marked here for extraction, translated per request into base.html's #script-text.
SCRIPT_TEXT = (
    _("Cancel"),
    _("Send"),
    _("Edit message"),
    _("Copy"),
    _("Copied"),
    _("Copy code"),
    _("Sending"),
    _("Queued"),
    _("Working"),
    _("Calling tools"),
    _("Continuing"),
    _("Remove %(name)s"),
    _("%(name)s is empty."),
    _("%(name)s is %(size)s; the limit is %(limit)s per file."),
    _("%(name)s is not a file type Gemini can read (%(kinds)s)."),
    _("That is %(count)s files; the limit is %(limit)s per message."),
    _("These files add up to %(size)s; the limit is %(limit)s per message."),
    _("Not used by agents"),
    _("Retrying in %(seconds)s s…"),
    _("Retrying now…"),
    *sorted({*REASONS.values(), DROPPED, ANSWERED_WITH_ERROR}),
    # activity.js's verbs: rendering/activity.py's NOUNS, THOUGHT_VERBS and OTHER_VERBS.
    _("Researched"),
    _("Researching"),
    _("Read pages"),
    _("Reading pages"),
    _("Ran code"),
    _("Running code"),
    _("Used tools"),
    _("Using tools"),
    _("Thought"),
    _("Thinking"),
    _("Worked"),
    _("Thought for %(duration)s"),
    _("%(minutes)s m %(seconds)s s"),
    _("%(seconds)s s"),
)
# Counted words (activity.js, through chatsitePlural; rendering/activity.py's NOUNS): each form
# by the browser's plural category (Intl.PluralRules), found from a number of that category.
PLURAL_SAMPLES = {"zero": 0, "one": 1, "two": 2, "few": 3, "many": 5, "other": 10}


def plural_forms(words) -> dict[str, str]:
    """An ngettext_lazy(…, "count") in every form, its count put back as %(count)s."""
    return {
        category: str(words % {"count": n}).replace(str(n), "%(count)s", 1)
        for category, n in PLURAL_SAMPLES.items()
    }


def site(request):
    return {
        "emulated": settings.GEMINI_EMULATED,
        "allow_signup": settings.ALLOW_SIGNUP and settings.PASSWORD_LOGIN,
        "password_login": settings.PASSWORD_LOGIN,
        "sso": settings.OIDC_ENABLED,
        # The operator's own words, or ours (translated).
        "sso_label": settings.OIDC_BUTTON_LABEL or gettext("Sign in with single sign-on"),
    }


def preferences(request):
    """The signed-in person's account (set by AccountLanguageMiddleware) and its theme, which
    base.html puts on <html data-theme>."""
    account = getattr(request, "account", None)
    return {
        "account": account,
        "theme": account.theme if account else "system",
        "script_text": {text: gettext(text) for text in SCRIPT_TEXT},
        # Keyed by activity.py's noun ("search"), as activity.js asks for them.
        "script_plurals": {noun: plural_forms(words) for noun, words, *_verbs in NOUNS},
    }
