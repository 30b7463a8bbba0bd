from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.preferences, name="preferences"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<uuid:public_id>/test/", views.webhook_test, name="webhook_test"),
    path("webhooks/<uuid:public_id>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<uuid:public_id>/delete/", views.webhook_delete, name="webhook_delete"),
]
