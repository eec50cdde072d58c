"""The interface language of a request, and the language a person wants answers in.

Order: the person's choice on `/accounts/settings/` (their Account), else the browser's
Accept-Language (Django's LocaleMiddleware, which runs first), else English (LANGUAGE_CODE).
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.utils import translation
from django.utils.translation import trans_real

from .models import Account

# Each language's name in English, for the instruction the model reads.
ENGLISH_NAMES = {
    "en": "English",
    "ru": "Russian",
    "he": "Hebrew",
    "vi": "Vietnamese",
    "fa": "Persian",
    "it": "Italian",
}


def supported(code: str) -> bool:
    return code in dict(settings.LANGUAGES)


class AccountLanguageMiddleware:
    """After AuthenticationMiddleware: a signed-in person's saved language wins over the
    browser's. Leaves the account on the request (`request.account`, for the context processor
    and the send path: one query a request). Async under ASGI: one thread hop for the person and
    their account, and the user it fetches is the one async views get from `request.auser()`."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        user = request.user
        _apply(request, Account.for_user(user) if user.is_authenticated else None)
        return self.get_response(request)

    async def __acall__(self, request):
        # The person and their account in one trip to the database thread, not two (issue 16:
        # each trip is a fraction of a millisecond before a posted message's request leaves).
        user, account = await sync_to_async(_person_and_account)(request)
        request.user = user  # the same person for sync code (templates) as for async views

        async def auser():
            return user

        request.auser = auser  # as AuthenticationMiddleware's, already fetched
        _apply(request, account)
        return await self.get_response(request)


def _person_and_account(request):
    user = get_user(request)
    return user, Account.for_user(user) if user.is_authenticated else None


def _apply(request, account: Account | None) -> None:
    request.account = account
    if account is not None and supported(account.language):
        translation.activate(account.language)
        request.LANGUAGE_CODE = account.language


async def for_socket(scope) -> str:
    """The language of a websocket: the person's choice, else the browser's Accept-Language
    (sent with the upgrade request), else English. Sockets have no LocaleMiddleware."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        account = await Account.objects.filter(user_id=user.pk).afirst()
        if account is not None and supported(account.language):
            return account.language
    header = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
    for code, _weight in trans_real.parse_accept_lang_header(header):
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def answer_line(account: Account | None) -> str:
    """The system-instruction line asking for answers in the person's language ("" for none:
    switched off, English, or following the browser)."""
    if account is None or not account.answer_in_language:
        return ""
    name = ENGLISH_NAMES.get(account.language)
    if not name or account.language == "en":
        return ""
    return f"Answer in {name} unless asked otherwise."
