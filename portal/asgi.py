"""The one application for pages and websockets: Django for HTTP, Channels for the web console.

Run it under uvicorn (`uvicorn portal.asgi:application`). Websockets must come from a page of
this site (Origin checked against ALLOWED_HOSTS) and carry the session cookie; the console
consumer then wants its single-use ticket.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Django is set up before anything imports models (the consumer does).
http_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal.consoles.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": http_application,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
