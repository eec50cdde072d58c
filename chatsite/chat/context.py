from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

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
)


def site(request):
    return {"emulated": settings.GEMINI_EMULATED, "allow_signup": settings.ALLOW_SIGNUP}


def preferences(request):
    """The signed-in person's account (set by AccountLanguageMiddleware) and its theme, which
    base.html puts on <html data-theme>."""
    account = getattr(request, "account", None)
    return {
        "account": account,
        "theme": account.theme if account else "system",
        "script_text": {text: gettext(text) for text in SCRIPT_TEXT},
    }
