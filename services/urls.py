from django.urls import path

from . import customer, ordering, views

app_name = "services"

urlpatterns = [
    path("order/", ordering.order, name="order"),
    path("contract/", customer.contract, name="contract"),
    path("sales/offers/", views.offer_list, name="offer_list"),
    path("sales/offers/sample/", views.offer_create_sample, name="offer_create_sample"),
    path("sales/offers/<uuid:public_id>/", views.offer_edit, name="offer_edit"),
    path("sales/offers/<uuid:public_id>/preview/", views.offer_preview, name="offer_preview"),
    path("sales/offers/<uuid:public_id>/print/", views.offer_print, name="offer_print"),
    path("sales/offers/<uuid:public_id>/pdf/", views.offer_pdf, name="offer_pdf"),
    path("sales/offers/<uuid:public_id>/accept/", views.offer_accept, name="offer_accept"),
    path("sales/offers/<uuid:public_id>/<str:transition>/", views.offer_transition, name="offer_transition"),
    # The customer's link: no login, the signed token is the key.
    path("offers/<str:token>/", views.offer_public, name="offer_public"),
    path("offers/<str:token>/pdf/", views.offer_public_pdf, name="offer_public_pdf"),
]
