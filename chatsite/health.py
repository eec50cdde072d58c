"""/healthz: 200 when the database and the channel layer both answer, else 503 with which one.

The Redis channel layer is checked with a PING on a connection of its own, never with a
`receive` on the layer: channels_redis serialises every receive of a process behind one lock,
so a receive here would wait behind the process's open sockets (and hold them up).
"""

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection
from django.http import JsonResponse

TIMEOUT = 2.0


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer")
    if isinstance(layer, InMemoryChannelLayer):
        return  # lives in this process: nothing to reach
    from redis.asyncio import Redis

    for index, host in enumerate(getattr(layer, "hosts", None) or [{}]):
        if "master_name" in host:  # Sentinel: the layer's own pool knows how to find it
            async with asyncio.timeout(TIMEOUT):
                await layer.connection(index).ping()
            continue
        kwargs = {k: v for k, v in host.items() if k != "address"}
        kwargs.update(socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        client = Redis.from_url(host["address"], **kwargs) if "address" in host else Redis(**kwargs)
        try:
            async with asyncio.timeout(TIMEOUT):
                await client.ping()
        finally:
            await client.aclose()


async def healthz(request):
    checks = {}
    for name, check in (("database", sync_to_async(_database)), ("channel_layer", _channel_layer)):
        try:
            await check()
            checks[name] = "ok"
        except Exception as exc:  # any failure is a failed check; say which and why
            checks[name] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )
