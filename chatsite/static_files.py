"""WhiteNoise's middleware, on the async path.

WhiteNoise's middleware is sync only. In an ASGI stack Django then runs it in a thread and the
rest of the stack back on the loop: two thread hops on every request, each way, static file or
not (issue 16: a message POSTed from the page waited for them before its request left). This
one looks the path up where it runs and goes on to the async stack; only serving a file (which
opens it, and in DEBUG searches the disk) is done in a thread.
"""

from __future__ import annotations

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = False
    async_capable = True

    def __init__(self, get_response=None, settings=settings):
        super().__init__(get_response, settings)
        markcoroutinefunction(self)

    async def __call__(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
