"""/api/v1/: every endpoint registers on one router; whatever matches none of them answers a JSON 404."""

from csp.decorators import csp_update
from django.urls import path, re_path
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from . import views
from .errors import Unrouted
from .firewall import FIREWALL_ROUTES
from .metadata import JsonOptions
from .network import NETWORK_ROUTES
from .safety import SAFETY_ROUTES

app_name = "api"


class SchemaView(JsonOptions, SpectacularAPIView):
    pass


# drf-spectacular's docs pages start their widgets with inline script and style (and Redoc a blob:
# worker); only these two pages allow that.
DOCS_CSP = {"script-src": ["'unsafe-inline'"], "style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]}


@method_decorator(csp_update(DOCS_CSP), name="get")
class SwaggerView(JsonOptions, SpectacularSwaggerView):
    pass


@method_decorator(csp_update(DOCS_CSP), name="get")
class RedocView(JsonOptions, SpectacularRedocView):
    pass


router = SimpleRouter()
router.register("servers", views.ServerViewSet, basename="server")
router.register("operations", views.OperationViewSet, basename="operation")
router.register("plans", views.PlanViewSet, basename="plan")
router.register("images", views.ImageViewSet, basename="image")
router.register("ssh-keys", views.SSHKeyViewSet, basename="ssh-key")
router.register("members", views.MemberViewSet, basename="member")
router.register("webhooks", views.WebhookViewSet, basename="webhook")
for prefix, viewset, basename in SAFETY_ROUTES + FIREWALL_ROUTES + NETWORK_ROUTES:
    router.register(prefix, viewset, basename=basename)

urlpatterns = [
    path("quota/", views.QuotaView.as_view(), name="quota"),
    path("me/", views.MeView.as_view(), name="me"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
    *router.urls,
    re_path(r"", Unrouted.as_view(), name="unrouted"),  # last: matches every path the routes above did not
]
