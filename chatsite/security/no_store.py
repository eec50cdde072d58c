"""Dynamic pages are never stored by a browser or a proxy unless a view says otherwise.

Every page of a signed-in person shows conversations (the list in the sidebar at least), so a
response without its own Cache-Control gets Django's never-cache headers (`no-store`): the
back button on a shared computer, or a caching proxy, shows nothing after sign-out. Responses
that choose their caching keep it (content-addressed media, static files).
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    @staticmethod
    def _mark(response):
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._mark(self.get_response(request))

    async def _acall(self, request):
        return self._mark(await self.get_response(request))
