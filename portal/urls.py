from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("", include("tenants.urls")),
    path("", include("provisioning.urls")),
    path("", include("services.urls")),
    path("staff/", include("portal.staff.urls")),
    path("admin/", admin.site.urls),
]
