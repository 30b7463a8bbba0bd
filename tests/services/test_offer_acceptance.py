"""The customer accepts online through the mailed link; staff record a paper acceptance with a reason."""

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from services import actions
from services.models import Contract, Offer, OfferAcceptance, Order
from tenants.models import AuditEvent, Tenant
from tests.notifications.outbox import deliver

from .conftest import SIGNED

SIGNER = {"name": "Erika Mustermann", "position": "Geschäftsführerin", "confirmed": "on"}


@pytest.fixture
def sent(seller, plans, cluster, ct_image, vm_image):
    offer = actions.offer_create_sample(user=seller, language="de", cluster=cluster)
    return actions.offer_send(offer=offer, user=seller)


def link(to="erika.mustermann@musterkunde.example"):
    deliver()  # the worker's part: the offer mail is a notification
    message = next(m for m in reversed(mail.outbox) if to in m.to)
    return re.search(r"https?://\S+/offers/\S+/", message.body).group(0), message


def path(url):
    return re.sub(r"^https?://[^/]+", "", url)


def test_sending_mails_the_contact_their_link_in_the_offers_language(sent):
    url, message = link()
    assert message.subject == "[JIKU Cloud] Ihr Angebot %s von JIKU IT-Solutions GmbH" % sent.number
    assert "gültig bis" in message.body and "&" not in message.subject
    page = Client().get(path(url))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Musterkunde GmbH" in text and "Zahlungspflichtig annehmen" in text and "Beispielweg 5" in text


def test_the_customer_accepts_online_and_the_acceptance_is_kept(sent):
    url, _ = link()
    response = Client(HTTP_USER_AGENT="Firefox/140", REMOTE_ADDR="203.0.113.9").post(path(url), SIGNER)
    assert response.status_code == 302
    offer = Offer.objects.get(pk=sent.pk)
    record = OfferAcceptance.objects.get(offer=offer)
    assert (offer.state, record.channel, record.name, record.revision.number) == ("accepted", "online", "Erika Mustermann", 1)
    assert (record.ip_address, record.user_agent) == ("203.0.113.9", "Firefox/140")
    assert "Zahlungspflichtig angenommen" in record.html and bytes(record.pdf[:4]) == b"%PDF"
    assert Contract.objects.filter(offer=offer).exists() and Order.objects.filter(offer=offer).count() == 4
    tenant = Tenant.objects.get(pk=offer.tenant_id)
    assert tenant.billing_address == "Beispielweg 5\n12345 Musterstadt"
    assert (tenant.response_critical_hours, tenant.response_normal_hours) == (2, 8)  # the tier's promise
    event = AuditEvent.objects.get(action="offer.accepted")
    assert event.actor is None and event.actor_label == "Erika Mustermann (Geschäftsführerin)"
    assert event.details["channel"] == "online"
    page = Client().get(path(url)).content.decode()
    assert "Vielen Dank" in page and "Zahlungspflichtig annehmen" not in page


def test_the_online_acceptance_needs_a_name_a_position_and_the_confirmation(sent):
    url, _ = link()
    page = Client().post(path(url), {"name": " ", "position": "", "confirmed": ""}).content.decode()
    assert page.count('class="errorlist"') == 3 and "Zahlungspflicht" in page
    assert not OfferAcceptance.objects.exists() and Offer.objects.get(pk=sent.pk).state == "sent"
    assert not Tenant.objects.exists()


def test_a_changed_offer_cannot_be_accepted_through_the_old_link(sent, seller):
    url, _ = link()
    actions.offer_update(offer=sent, user=seller, fields={"poc_fee": sent.poc_fee + 1},
                         use_cases=list(sent.use_cases.all()))
    response = Client().post(path(url), SIGNER)
    assert "frühere Version" in response.content.decode()
    offer = actions.offer_send(offer=Offer.objects.get(pk=sent.pk), user=seller)
    old = path(url)
    new, _ = link()
    assert path(new) != old
    assert "frühere Version" in Client().get(old).content.decode()
    with pytest.raises(ValidationError, match="ersetzt|replaced"):
        actions.offer_accept_online(token=old.split("/")[2], **{**SIGNER, "confirmed": True})
    assert Client().post(path(new), SIGNER).status_code == 302
    assert OfferAcceptance.objects.get(offer=offer).revision.number == 2


def test_a_forged_link_is_404_and_accepts_nothing(sent):
    url, _ = link()
    token = path(url).split("/")[2]
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    assert Client().get(f"/offers/{forged}/").status_code == 404
    assert Client().post(f"/offers/{forged}/", SIGNER).status_code == 404
    assert not OfferAcceptance.objects.exists()


def test_staff_record_a_paper_acceptance_only_with_signer_and_reason(seller_client, sent):
    url = f"/sales/offers/{sent.public_id}/accept/"
    page = seller_client.get(url).content.decode()
    assert "4 servers are ordered and built" in page
    page = seller_client.post(url, {"name": "", "position": "", "reason": ""}).content.decode()
    assert page.count('id="id_reason_error"') == 1 and not OfferAcceptance.objects.exists()
    response = seller_client.post(url, SIGNED)
    assert response.status_code == 302
    record = OfferAcceptance.objects.get(offer=sent)
    assert (record.channel, record.note, record.recorded_by.email) == ("paper", SIGNED["reason"], "vera@jiku.example")
    assert "auf Papier unterschrieben; erfasst von vera@jiku.example" in record.html


def test_the_acceptance_cannot_be_changed_or_deleted(sent, seller):
    actions.offer_accept(offer=sent, user=seller, **SIGNED)
    record = OfferAcceptance.objects.get()
    for change in (lambda: OfferAcceptance.objects.update(name="Someone else"), record.delete):
        with pytest.raises(IntegrityError, match="evidence"), transaction.atomic():
            change()
    assert OfferAcceptance.objects.get().name == SIGNED["name"]


def test_the_printed_offer_never_shows_internal_sales_notes(seller_client, sent):
    page = seller_client.get(f"/sales/offers/{sent.public_id}/print/").content.decode()
    assert "Proof of Concept" in page or "proof of concept" in page.lower()
    assert "mit dem Kunden" not in page and "with the customer" not in page
    assert "Handelsregister" in page or "HRB 00000" in page


def test_a_price_change_since_sending_is_explained_to_the_customer_in_their_words(sent):
    from decimal import Decimal

    from services.models import DutyPrice

    url, _ = link()
    DutyPrice.objects.filter(duty="infrastructure").update(per_month=Decimal("999.00"))
    page = Client().post(path(url), SIGNER).content.decode()
    assert "JIKU sendet Ihnen ein aktualisiertes" in page and "Katalog" not in page
    assert not OfferAcceptance.objects.exists() and not Tenant.objects.exists()


def test_a_mail_server_that_is_down_does_not_break_sending(seller_client, seller, plans, settings,
                                                          django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    offer = actions.offer_create_sample(user=seller, language="en")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = seller_client.post(f"/sales/offers/{offer.public_id}/send/", follow=True)
    assert len(callbacks) == 1  # the mail was tried (and failed) after the commit
    assert response.status_code == 200 and Offer.objects.get(pk=offer.pk).state == "sent"
    assert "/offers/" in response.content.decode()  # the link to pass on by hand


def test_the_customer_accepts_even_while_the_mail_server_is_down(sent, settings, django_capture_on_commit_callbacks):
    url, _ = link()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(path(url), SIGNER)
    assert response.status_code == 302
    offer = Offer.objects.get(pk=sent.pk)
    assert offer.state == "accepted" and offer.tenant.invitations.filter(email=offer.contact_email).exists()


def smtp_down(settings):
    from tests.notifications.test_delivery import closed_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2


def send_what_is_due():
    from notifications.actions import delivery_send
    from notifications.models import Delivery

    Delivery.objects.filter(state=Delivery.State.PENDING).update(next_attempt_at=None)
    for delivery_id in Delivery.objects.filter(state=Delivery.State.PENDING).values_list("pk", flat=True):
        delivery_send(delivery_id=delivery_id)


def test_an_offer_declined_or_revised_while_the_mail_server_was_down_is_not_mailed_as_it_was(sent, seller,
                                                                                              settings):
    from notifications.models import Delivery

    smtp_down(settings)
    deliver()
    assert Delivery.objects.get().state == Delivery.State.PENDING
    actions.offer_update(offer=sent, user=seller, fields={"poc_fee": sent.poc_fee + 1},
                         use_cases=list(sent.use_cases.all()))
    actions.offer_send(offer=Offer.objects.get(pk=sent.pk), user=seller)  # revision 2, its own mail
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the mail server is back
    deliver()
    send_what_is_due()
    (message,) = mail.outbox  # the revised offer only, not also the first one's stale link
    assert sorted(Delivery.objects.values_list("state", flat=True)) == ["lapsed", "sent"]
    assert Client().get(path(re.search(r"https?://\S+/offers/\S+/", message.body).group(0))).status_code == 200
    mail.outbox.clear()
    smtp_down(settings)
    actions.offer_update(offer=Offer.objects.get(pk=sent.pk), user=seller, fields={"poc_fee": sent.poc_fee + 2},
                         use_cases=list(sent.use_cases.all()))
    actions.offer_send(offer=Offer.objects.get(pk=sent.pk), user=seller)
    deliver()
    actions.offer_decline(offer=Offer.objects.get(pk=sent.pk), user=seller)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_what_is_due()
    assert mail.outbox == []  # a declined offer's link is not mailed after all
