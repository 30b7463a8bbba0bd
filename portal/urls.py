from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for it on pages without an icon link (a PDF, an offer's print view).
    path("favicon.ico", views.favicon, name="favicon"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("", include("tenants.urls")),
    path("", include("provisioning.urls")),
    path("", include("portal.consoles.urls")),
    path("", include("services.urls")),
    path("", include("billing.urls")),
    path("", include("notifications.urls")),
    path("staff/", include("portal.staff.urls")),
    path("admin/", admin.site.urls),
]

# Under /api/ these answer in the API's JSON error shape; elsewhere they are Django's own pages.
handler400 = "portal.api.errors.bad_request"
handler403 = "portal.api.errors.permission_denied"
handler404 = "portal.api.errors.page_not_found"
handler500 = "portal.api.errors.server_error"
