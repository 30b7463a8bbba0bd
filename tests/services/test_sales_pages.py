import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from pypdf import PdfReader

from services import actions
from services.models import Offer, ServiceTier
from tenants.models import Duty, Party

from .conftest import form_data


@pytest.fixture
def offer(seller, plans):
    return actions.offer_create_sample(user=seller, language="en")


def pdf_text(response):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def test_customers_get_403_on_every_sales_page(alice_client, offer):
    pages = ["/sales/offers/", f"/sales/offers/{offer.public_id}/", f"/sales/offers/{offer.public_id}/pdf/",
             f"/sales/offers/{offer.public_id}/print/"]
    for url in pages:
        assert alice_client.get(url).status_code == 403
    for url in ["/sales/offers/sample/", f"/sales/offers/{offer.public_id}/accept/",
                f"/sales/offers/{offer.public_id}/preview/"]:
        assert alice_client.post(url).status_code == 403
    offer.refresh_from_db()
    assert offer.state == Offer.State.DRAFT and Offer.objects.count() == 1


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get("/sales/offers/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_sales_link_shows_for_sales_staff_only(seller_client, alice_client):
    assert "/sales/offers/" in seller_client.get("/sales/offers/").content.decode()
    assert "/sales/offers/" not in alice_client.get("/").content.decode()


def test_sales_staff_see_no_customer_servers(seller_client, tenant_a):
    response = seller_client.get("/servers/")
    assert response.status_code == 302  # no tenant of their own: onboarding, never someone else's list


def test_one_click_creates_the_sample_offer(seller_client, plans):
    response = seller_client.post("/sales/offers/sample/")
    offer = Offer.objects.get()
    assert response["Location"] == f"/sales/offers/{offer.public_id}/"
    page = seller_client.get(response["Location"]).content.decode()
    assert "Sample Customer Ltd" in page and "nextcloud" in page and "567.00" in page
    listed = seller_client.get("/sales/offers/").content.decode()
    assert "<td>567.00 €</td>" in listed and "Customer involvement" in listed  # cents, whatever the database returns


def test_the_live_price_follows_tier_and_duties(seller_client, offer):
    mittel = ServiceTier.objects.get(slug="mittel")
    url = f"/sales/offers/{offer.public_id}/preview/"
    gering = seller_client.post(url, form_data(offer)).content.decode()
    assert "567.00" in gering
    as_mittel = seller_client.post(url, form_data(offer, tier=mittel.pk)).content.decode()
    assert "Customer involvement medium" in as_mittel and "Managed by JIKU: Telephony setup" in as_mittel
    fewer = seller_client.post(url, form_data(offer, tier=mittel.pk, duty_telephony=Party.CUSTOMER)).content.decode()
    assert "Managed by JIKU: Telephony setup" not in fewer
    offer.refresh_from_db()
    assert offer.revision == 1  # a preview never saves


def test_saving_makes_a_revision_and_bad_input_shows_at_the_field(seller_client, offer):
    mittel = ServiceTier.objects.get(slug="mittel")
    url = f"/sales/offers/{offer.public_id}/"
    response = seller_client.post(url, form_data(offer, tier=mittel.pk, duty_backups=Party.CUSTOMER))
    assert response.status_code == 302
    offer.refresh_from_db()
    assert (offer.revision, offer.tier, offer.duties[Duty.BACKUPS]) == (2, mittel, Party.CUSTOMER)
    response = seller_client.post(url, form_data(offer, headroom_percent=-5, **{"uc-0-target": ""}))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_headroom_percent_error"' in page
    assert "This field is required." in page
    offer.refresh_from_db()
    assert offer.revision == 2


def test_the_pdf_names_company_tier_and_prices(seller_client, offer):
    response = seller_client.get(f"/sales/offers/{offer.public_id}/pdf/")
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response)
    for expected in ["JIKU IT-Solutions", "Sample Customer Ltd", "Customer involvement low", "567.00", "674.74",
                     "2,368.10", "MS SQL to MySQL", "proof of concept", "Backups"]:
        assert expected in text, expected


def test_the_pdf_speaks_the_offers_language(seller_client, seller, plans):
    offer = actions.offer_create_sample(user=seller, language="de")
    text = pdf_text(seller_client.get(f"/sales/offers/{offer.public_id}/pdf/"))
    assert "Musterkunde GmbH" in text and "567,00" in text


def test_accepting_twice_shows_a_clear_message(seller_client, offer, settings):
    Offer.objects.filter(pk=offer.pk).update(state=Offer.State.ACCEPTED)
    response = seller_client.post(f"/sales/offers/{offer.public_id}/accept/", follow=True)
    assert "already been accepted" in response.content.decode()


def test_an_unknown_transition_is_404(seller_client, offer):
    assert seller_client.post(f"/sales/offers/{offer.public_id}/delete/").status_code == 404


def test_fees_are_decimal_in_the_saved_revision(seller_client, offer):
    seller_client.post(f"/sales/offers/{offer.public_id}/", form_data(offer, setup_fee="0.05"))
    offer.refresh_from_db()
    assert offer.revisions.get(number=2).once_net == Decimal("1500.05")


def test_staff_without_the_sales_group_get_403(client, db, offer):
    from tests.conftest import make_user

    client.force_login(make_user("otto@jiku.example", is_staff=True))
    assert client.get("/sales/offers/").status_code == 403
    assert client.post("/sales/offers/sample/").status_code == 403
    assert Offer.objects.count() == 1


def test_an_unknown_offer_is_404(seller_client, db):
    assert seller_client.get("/sales/offers/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_the_offer_list_needs_a_fixed_number_of_queries(seller_client, seller, plans, django_assert_max_num_queries):
    for _ in range(3):
        actions.offer_create_sample(user=seller)
    with django_assert_max_num_queries(8):
        page = seller_client.get("/sales/offers/").content.decode()
    assert page.count("Sample Customer Ltd") == 3 or page.count("Musterkunde GmbH") == 3


def test_staff_edit_tiers_in_the_admin(client, db):
    from tests.conftest import make_user

    client.force_login(make_user("root@jiku.example", is_staff=True, is_superuser=True))
    tier = ServiceTier.objects.get(slug="mittel")
    assert client.get("/admin/services/servicetier/").status_code == 200
    assert "Telephony setup" in client.get(f"/admin/services/servicetier/{tier.pk}/change/").content.decode()
    assert client.get("/admin/services/suggestionrule/").status_code == 200
    assert client.get("/admin/services/offer/").status_code == 200


def test_the_offer_page_renders_in_german(seller_client, seller, plans, settings):
    from django.utils import translation

    settings.LANGUAGE_CODE = "de"
    with translation.override("de"):
        offer = actions.offer_create_sample(user=seller)
        response = seller_client.get(f"/sales/offers/{offer.public_id}/", HTTP_ACCEPT_LANGUAGE="de")
    page = response.content.decode()
    assert response.status_code == 200 and "Musterkunde GmbH" in page and "567,00" in page


def test_an_image_from_another_cluster_is_refused(seller, plans, cluster, vm_image):
    from provisioning.models import Cluster, Image

    other = Cluster.objects.create(name="Other", api_url="127.0.0.1:1", token_id="x@pam!y")
    foreign = Image.objects.create(cluster=other, name="Foreign", kind="qemu", template_vmid=9000)
    offer = actions.offer_create_sample(user=seller, cluster=cluster)
    cases = list(offer.use_cases.all())
    next(c for c in cases if c.hostname == "crm").image = foreign
    with pytest.raises(ValidationError) as info:
        actions.offer_update(offer=offer, user=seller, fields={}, use_cases=cases)
    assert "cluster" in info.value.message_dict


def test_sales_staff_cannot_browse_servers_in_the_admin(seller_client):
    assert seller_client.get("/admin/provisioning/server/").status_code == 403


def test_sales_read_the_rules_and_edit_them_in_the_admin(seller_client):
    assert "Nextcloud (Dateien, Kalender, Aufgaben)" in seller_client.get("/sales/offers/").content.decode()
    assert seller_client.get("/admin/services/suggestionrule/").status_code == 200
