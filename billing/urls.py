from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("billing/", views.billing, name="billing"),
    path("billing/invoices/<uuid:public_id>/<str:kind>/", views.invoice_download, name="invoice_download"),
    path("staff/billing/", views.staff_billing, name="staff"),
    path("staff/billing/run/", views.staff_run, name="staff_run"),
    path("staff/billing/issue/", views.staff_issue_all, name="staff_issue_all"),
    path("staff/billing/statement/", views.staff_statement, name="staff_statement"),
    path("staff/billing/datev/<int:year>-<int:month>/", views.staff_datev, name="staff_datev"),
    path("staff/billing/invoices/<uuid:public_id>/", views.staff_invoice, name="staff_invoice"),
    path("staff/billing/invoices/<uuid:public_id>/<str:kind>/", views.staff_download, name="staff_download"),
]
