"""HTTP goes to Django behind the body limit; websockets must come from the app's own origin
and carry a session."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatsite.chat.routing import websocket_urlpatterns  # noqa: E402
from chatsite.security import daphne_guard  # noqa: E402
from chatsite.security.body_limit import BodyLimit  # noqa: E402
from chatsite.security.origins import SameOriginValidator  # noqa: E402

daphne_guard.install()  # daphne buffers bodies before the app runs: limit them there too

from chatsite.chat import retention  # noqa: E402

retention.start_daily()  # RETENTION_DAYS: once a day, in one process of several

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
