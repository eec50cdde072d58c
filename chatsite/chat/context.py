from django.conf import settings
from django.utils.translation import gettext_lazy as _

# What the scripts write into the page (static/chatsite/*.js, through i18n.js's chatsiteText),
# handed to them translated in base.html's #script-text.
SCRIPT_TEXT = {
    "Cancel": _("Cancel"),
    "Send": _("Send"),
    "Edit message": _("Edit message"),
    "Copy": _("Copy"),
    "Copied": _("Copied"),
    "Copy code": _("Copy code"),
    "Sending": _("Sending"),
    "Queued": _("Queued"),
    "Working": _("Working"),
    "Calling tools": _("Calling tools"),
    "Continuing": _("Continuing"),
    "Remove %(name)s": _("Remove %(name)s"),
    "%(name)s is empty.": _("%(name)s is empty."),
    "%(name)s is %(size)s; the limit is %(limit)s per file.": _(
        "%(name)s is %(size)s; the limit is %(limit)s per file."
    ),
    "%(name)s is not a file type Gemini can read (%(kinds)s).": _(
        "%(name)s is not a file type Gemini can read (%(kinds)s)."
    ),
    "That is %(count)s files; the limit is %(limit)s per message.": _(
        "That is %(count)s files; the limit is %(limit)s per message."
    ),
    "These files add up to %(size)s; the limit is %(limit)s per message.": _(
        "These files add up to %(size)s; the limit is %(limit)s per message."
    ),
}


def site(request):
    return {"emulated": settings.GEMINI_EMULATED, "allow_signup": settings.ALLOW_SIGNUP}


def preferences(request):
    """The signed-in person's account (set by AccountLanguageMiddleware) and its theme, which
    base.html puts on <html data-theme>."""
    account = getattr(request, "account", None)
    return {
        "account": account,
        "theme": account.theme if account else "system",
        "script_text": {key: str(text) for key, text in SCRIPT_TEXT.items()},
    }
