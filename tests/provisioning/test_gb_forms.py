"""Customers type memory and disk in GB (1 GB = 1024 MiB, as Proxmox counts); the actions keep MiB."""

import pytest
from django.urls import reverse
from django.utils import translation

from provisioning.forms import ResizeForm, ServerCreateForm
from provisioning.models import Operation, Server
from tests.staff.conftest import make_servers, offline_cluster  # noqa: F401 - fixture


@pytest.fixture
def server(tenant_a, offline_cluster):  # noqa: F811
    return make_servers(tenant_a, offline_cluster, 1)[0]  # 1 vCPU, 1024 MiB, 10 GB, running


def resize(server, **data):
    return ResizeForm({"cores": server.cores, "memory_gb": "1", "disk_gb": server.disk_gb, **data}, server=server)


def test_it_turns_gigabytes_into_the_mebibytes_proxmox_counts(server):
    for typed, mib in (("2", 2048), ("1.5", 1536), ("0.25", 256), ("0.75", 768), ("512", 524288)):
        form = resize(server, memory_gb=typed)
        assert form.is_valid(), (typed, form.errors)
        assert form.cleaned_data["memory_mb"] == mib and "memory_gb" not in form.cleaned_data


def test_it_reads_the_german_decimal_comma(server):
    with translation.override("de"):
        form = resize(server, memory_gb="1,5")
        assert form.is_valid(), form.errors
    assert form.cleaned_data["memory_mb"] == 1536


def test_it_refuses_memory_off_the_quarter_gigabyte_steps_and_out_of_range_at_the_field(server):
    for typed, message in (
        ("1.3", "Enter the memory in steps of 0.25 GB, e.g. 0.5, 1.5 or 2."),
        ("0.1", "Choose from 0.25 to 512 GB."),
        ("0", "Choose from 0.25 to 512 GB."),
        ("513", "Choose from 0.25 to 512 GB."),
        ("-1", "Choose from 0.25 to 512 GB."),
        ("lots", "Enter a number."),
        ("NaN", "Enter a number."),
    ):
        form = resize(server, memory_gb=typed)
        assert not form.is_valid()
        assert form.errors == {"memory_gb": [message]}, typed


def test_it_says_the_messages_in_german(server):
    with translation.override("de"):
        form = resize(server, memory_gb="1,3")
        assert not form.is_valid()
        message = form.errors["memory_gb"][0]
    assert "0,25 GB" in message and "steps" not in message


def test_it_keeps_a_size_set_in_proxmox_off_the_steps_so_only_the_disk_can_grow(server):
    Server.objects.filter(pk=server.pk).update(memory_mb=1000)
    server.refresh_from_db()
    form = ResizeForm(server=server)
    typed = form["memory_gb"].value()
    assert str(typed) == "0.9765625"
    assert "(1000 MiB)" in str(form.fields["memory_gb"].help_text)
    bound = resize(server, memory_gb=str(typed), disk_gb=20)
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data == {"cores": 1, "memory_mb": 1000, "disk_gb": 20}


def test_the_resize_form_shows_the_size_now_in_gigabytes_with_the_exact_mebibytes(alice_client, server):
    Server.objects.filter(pk=server.pk).update(memory_mb=1536)
    page = alice_client.get(reverse("provisioning:server_settings", args=[server.public_id])).content.decode()
    assert "Memory (GB)" in page and "Disk (GB)" in page and "MiB)</label>" not in page
    assert 'name="memory_gb" value="1.5"' in page
    assert "Now 1.5 GB (1536 MiB); in steps of 0.25 GB." in page
    alice_client.cookies["django_language"] = "de"
    page = alice_client.get(reverse("provisioning:server_settings", args=[server.public_id]),
                            HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'name="memory_gb" value="1,5"' in page
    assert "Arbeitsspeicher (GB)" in page


def test_a_resize_in_gigabytes_reaches_the_action_in_mebibytes(alice_client, server):
    response = alice_client.post(reverse("provisioning:server_resize", args=[server.public_id]),
                                 {"cores": 2, "memory_gb": "2.5", "disk_gb": 20})
    assert response.status_code == 302
    server.refresh_from_db()
    assert (server.cores, server.memory_mb, server.disk_gb) == (2, 2560, 20)
    assert server.operations.filter(kind=Operation.Kind.RESIZE).exists()


def test_bad_resize_input_changes_nothing_and_shows_the_error_at_the_field(alice_client, server):
    url = reverse("provisioning:server_resize", args=[server.public_id])
    response = alice_client.post(url, {"cores": 2, "memory_gb": "1.3", "disk_gb": 20})
    assert response.status_code == 200
    form = response.context["resize_form"]
    assert form.errors == {"memory_gb": ["Enter the memory in steps of 0.25 GB, e.g. 0.5, 1.5 or 2."]}
    assert 'value="1.3"' in response.content.decode(), "what was typed stays in the field"
    # The action's own refusal lands at its field too.
    response = alice_client.post(url, {"cores": 1, "memory_gb": "1", "disk_gb": 5})
    assert response.context["resize_form"].errors["disk_gb"] == ["Disks can only grow; this server has 10\u00a0GB."]
    server.refresh_from_db()
    assert (server.cores, server.memory_mb, server.disk_gb) == (1, 1024, 10)
    assert not server.operations.filter(kind=Operation.Kind.RESIZE).exists()


def test_the_order_form_asks_gigabytes(alice_client, tenant_a):
    page = alice_client.get(reverse("provisioning:server_create")).content.decode()
    assert 'name="memory_gb" value="2"' in page and "1 GB = 1024 MiB" in page
    form = ServerCreateForm({"memory_gb": "1.5"}, tenant=tenant_a)
    form.is_valid()
    assert "memory_gb" not in form.errors


def test_the_price_of_a_change_is_asked_in_gigabytes(alice_client, tenant_a):
    from billing.views import PriceForm

    form = PriceForm({"server": "", "cores": 1, "memory_gb": "300", "disk_gb": 10}, servers=Server.objects.none())
    assert not form.is_valid() and form.errors["memory_gb"] == ["Choose from 0.25 to 256 GB."]
