"""/healthz: 200 when the database and the channel layer both answer, else 503 with which one."""

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _channel_layer() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    async with asyncio.timeout(2):
        message = await layer.receive(channel)
    if message.get("type") != "health.ping":
        raise RuntimeError("unexpected message")


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
