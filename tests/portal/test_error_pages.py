"""The 403, 404 and 500 pages look like the portal and say what to do next."""

from django.test import RequestFactory
from django.urls import reverse

from portal.api.errors import server_error


def test_an_unknown_address_answers_the_styled_404_with_a_way_back(alice_client):
    response = alice_client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "This page does not exist" in page and reverse("dashboard") in page and 'class="topbar"' in page


def test_a_member_without_the_role_gets_the_styled_403_naming_who_can_help(bob_client):
    response = bob_client.get(reverse("tenants:audit"))
    assert response.status_code == 403
    assert "Ask an owner or admin of your company" in response.content.decode()


def test_the_500_page_renders_without_a_request_context(db):
    response = server_error(RequestFactory().get("/servers/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page and "Try again in a few minutes." in page


def test_german_error_pages_speak_german(alice_client, settings):
    settings.LANGUAGE_CODE = "de"
    alice_client.post("/i18n/setlang/", {"language": "de", "next": "/"})
    assert "Diese Seite gibt es nicht" in alice_client.get("/no-such-page/").content.decode()
