"""Django's own middleware, with the hooks that do no I/O run on the loop.

Under ASGI, Django runs each old-style middleware hook (process_request, process_response) in
the database thread (MiddlewareMixin.__acall__): with this project's stack that was about a
dozen thread hops on every request, 4–6 ms before a posted message reached its view on the
bench machine (issue 16, `python -m bench --scenarios ttft`, the posted variant). These
subclasses call the hooks that only read the request and set headers or lazy objects directly;
a hook that may touch the database or the disk (the session's save, the messages' storage)
still goes to the thread, as Django does it. Django's security, CSRF and clickjacking
middleware stay as they are: `check --deploy` looks for them by their exact paths.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from csp.middleware import CSPMiddleware as _CSP
from django.contrib.auth.middleware import AuthenticationMiddleware as _Auth
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.middleware.common import CommonMiddleware as _Common
from django.middleware.locale import LocaleMiddleware as _Locale


class _Inline:
    """MiddlewareMixin's async call, with process_request / process_response called inline
    when `inline_request` / `inline_response` say they do no I/O."""

    inline_request = True
    inline_response = True

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if self.inline_request:
                response = self.process_request(request)
            else:
                response = await sync_to_async(self.process_request)(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.inline_response:
                response = self.process_response(request, response)
            else:
                response = await sync_to_async(self.process_response)(request, response)
        return response


class CSPMiddleware(_Inline, _CSP):
    pass


class SessionMiddleware(_Inline, _Session):
    # The store is created lazily (no query); its response hook may load and save it.
    inline_response = False


class LocaleMiddleware(_Inline, _Locale):
    pass


class CommonMiddleware(_Inline, _Common):
    pass


class AuthenticationMiddleware(_Inline, _Auth):
    pass  # the person is fetched lazily, by whoever asks
