from django.urls import path

from . import views

app_name = "consoles"

urlpatterns = [
    path("servers/<uuid:public_id>/console/", views.console_page, name="console"),
    path("servers/<uuid:public_id>/console/ticket/", views.console_ticket, name="ticket"),
    path("servers/<uuid:public_id>/console/start/", views.console_start, name="start"),
]
