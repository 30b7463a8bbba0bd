from django.urls import path

from .consumer import ConsoleConsumer

websocket_urlpatterns = [
    path("ws/consoles/<uuid:session_id>/", ConsoleConsumer.as_asgi()),
]
