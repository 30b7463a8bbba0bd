"""What a customer was offered and accepted never changes afterwards, whatever door a change tries."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client

from services import actions
from services.models import Contract, DutyPrice, Offer, OfferRevision, UseCase, VdsSize
from tests.conftest import make_user

from .conftest import SIGNED, form_data


@pytest.fixture
def accepted(seller, plans, cluster, ct_image, vm_image):
    offer = actions.offer_create_sample(user=seller, language="en", cluster=cluster)
    return actions.offer_accept(offer=offer, user=seller, **SIGNED)


@pytest.fixture
def root_client(db):
    client = Client()
    client.force_login(make_user("root@jiku.example", is_staff=True, is_superuser=True))
    return client


def raw_delete(offer):
    """Past Django's own protection (the acceptance row): the database still refuses."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM services_offerrevision WHERE offer_id = %s", [offer.pk])


def raises_in_the_database(change):
    with pytest.raises(IntegrityError, match="cannot be changed"), transaction.atomic():
        change()


def test_the_sales_page_refuses_to_change_an_accepted_offer(seller_client, accepted):
    fee = accepted.setup_fee
    response = seller_client.post(f"/sales/offers/{accepted.public_id}/", form_data(accepted, setup_fee="1.00"),
                                  follow=True)
    accepted.refresh_from_db()
    assert "Only a draft or sent offer" in response.content.decode()
    assert (accepted.setup_fee, accepted.revision, accepted.revisions.count()) == (fee, 1, 1)


def test_the_admin_shows_an_accepted_offer_without_a_way_to_change_it(root_client, accepted):
    revision = accepted.revisions.get()
    url = f"/admin/services/offer/{accepted.pk}/change/"
    page = root_client.get(url).content.decode()
    assert "Sample Customer Ltd" in page and 'name="_save"' not in page and 'name="setup_fee"' not in page
    assert "Signed offer received by post" in page  # the acceptance shows with its offer
    assert root_client.post(url, {"setup_fee": "1.00", "company": "Changed"}).status_code == 403
    assert root_client.post(f"/admin/services/offerrevision/{revision.pk}/change/",
                            {"monthly_net": "1.00"}).status_code == 404  # revisions show inside their offer only
    assert root_client.post(f"/admin/services/offer/{accepted.pk}/delete/", {"post": "yes"}).status_code == 403
    before = (accepted.company, accepted.setup_fee, revision.monthly_net)
    accepted.refresh_from_db()
    revision.refresh_from_db()
    assert (accepted.company, accepted.setup_fee, revision.monthly_net) == before


def test_only_a_draft_offer_can_be_deleted_in_the_admin(root_client, seller, plans):
    draft = actions.offer_create_sample(user=seller, language="en")
    sent = actions.offer_send(offer=actions.offer_create_sample(user=seller, language="en"), user=seller)
    assert root_client.post(f"/admin/services/offer/{sent.pk}/delete/", {"post": "yes"}).status_code == 403
    assert root_client.post(f"/admin/services/offer/{draft.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(Offer.objects.values_list("pk", flat=True)) == [sent.pk]


def test_the_database_refuses_any_change_to_an_accepted_offer(accepted):
    use_case, fee = accepted.use_cases.first(), accepted.setup_fee
    raises_in_the_database(lambda: Offer.objects.filter(pk=accepted.pk).update(setup_fee=Decimal("1.00")))
    raises_in_the_database(lambda: Offer.objects.filter(pk=accepted.pk).update(revision=2, setup_fee=1))
    raises_in_the_database(lambda: Offer.objects.filter(pk=accepted.pk).update(state=Offer.State.DRAFT))
    raises_in_the_database(lambda: OfferRevision.objects.filter(offer=accepted).update(monthly_net=1))
    raises_in_the_database(lambda: UseCase.objects.filter(pk=use_case.pk).update(hostname="other"))
    raises_in_the_database(lambda: UseCase.objects.create(offer=accepted, name="Extra", target="lxc"))
    raises_in_the_database(lambda: raw_delete(accepted))
    accepted.refresh_from_db()
    assert (accepted.state, accepted.setup_fee, accepted.use_cases.count()) == (Offer.State.ACCEPTED, fee, 7)


def test_an_open_offer_changes_only_as_a_new_revision(seller, plans):
    offer = actions.offer_create_sample(user=seller, language="en")
    once = offer.revisions.get().once_net
    raises_in_the_database(lambda: Offer.objects.filter(pk=offer.pk).update(setup_fee=Decimal("1.00")))
    raises_in_the_database(lambda: UseCase.objects.filter(offer=offer).update(note="changed"))
    raises_in_the_database(lambda: OfferRevision.objects.filter(offer=offer).update(once_net=1))
    actions.offer_update(offer=offer, user=seller, fields={"setup_fee": offer.setup_fee + 1},
                         use_cases=list(offer.use_cases.all()))
    assert list(offer.revisions.values_list("number", "once_net")) == [(2, once + 1), (1, once)]


def test_changing_a_sent_offer_makes_a_draft_that_has_to_be_sent_again(seller, plans):
    offer = actions.offer_send(offer=actions.offer_create_sample(user=seller, language="en"), user=seller)
    once = offer.revisions.get().once_net
    offer = actions.offer_update(offer=offer, user=seller, fields={"poc_fee": offer.poc_fee + 100},
                                 use_cases=list(offer.use_cases.all()))
    assert (offer.state, offer.revision) == (Offer.State.DRAFT, 2)
    assert (offer.revisions.get(number=1).once_net, offer.revisions.get(number=2).once_net) == (once, once + 100)


def test_the_printed_accepted_offer_keeps_its_prices_when_the_catalogue_changes(seller_client, accepted):
    DutyPrice.objects.filter(duty="infrastructure").update(per_month=Decimal("999.00"))
    VdsSize.objects.update(price_monthly=Decimal("1.00"))
    page = seller_client.get(f"/sales/offers/{accepted.public_id}/print/").content.decode()
    assert 'data-testid="monthly-net">567.00' in page and "999.00" not in page
    contract = Contract.objects.get(offer=accepted)
    assert "999.00" not in str(contract.fees["duties"])


def test_accepting_after_the_catalogue_changed_asks_for_a_new_revision(seller, plans, cluster, ct_image, vm_image):
    offer = actions.offer_create_sample(user=seller, language="en", cluster=cluster)
    DutyPrice.objects.filter(duty="infrastructure").update(per_month=Decimal("999.00"))
    with pytest.raises(ValidationError, match="prices changed"):
        actions.offer_accept(offer=offer, user=seller, **SIGNED)
    assert not Contract.objects.exists() and Offer.objects.get(pk=offer.pk).state == Offer.State.DRAFT
    offer = actions.offer_update(offer=offer, user=seller, fields={}, use_cases=list(offer.use_cases.all()))
    offer = actions.offer_accept(offer=offer, user=seller, **SIGNED)
    assert {"duty": "infrastructure", "fee": "999.00", "per_server": "0.00"} in Contract.objects.get(offer=offer).fees["duties"]
    assert offer.revisions.get(number=2).monthly_net > offer.revisions.get(number=1).monthly_net


def test_the_edit_page_says_when_todays_prices_differ_from_the_revision(seller_client, seller, plans):
    offer = actions.offer_create_sample(user=seller, language="en")
    DutyPrice.objects.filter(duty="infrastructure").update(per_month=Decimal("999.00"))
    page = seller_client.get(f"/sales/offers/{offer.public_id}/").content.decode()
    assert "prices have changed since this revision" in page
