"""The order wizard: narrowing choices, price with VAT, quota after the order, bad input at the field."""

from decimal import Decimal

import pytest

from provisioning.models import Server
from services.models import Order, Plan
from tests.provisioning.conftest import wait_done


@pytest.fixture
def plans(db):
    return {
        "ct": Plan.objects.create(name="Container S", slug="ct-s", kind="lxc", cores=1, memory_mb=1024, disk_gb=10, price_monthly=Decimal("4.99")),
        "vm": Plan.objects.create(name="VM M", slug="vm-m", kind="qemu", cores=2, memory_mb=4096, disk_gb=40, price_monthly=Decimal("19.90")),
    }


def test_the_wizard_shows_the_plans_and_images_of_the_chosen_type(alice_client, plans, vm_image, ct_image):
    page = alice_client.get("/order/?kind=qemu").content.decode()
    assert "VM M" in page and "Container S" not in page
    assert "Debian 12 (container)" not in page and ">Debian 12<" in page


def test_the_summary_shows_net_vat_gross_and_the_quota_after(alice_client, plans, ct_image):
    page = alice_client.post("/order/", {"kind": "lxc", "cluster": ct_image.cluster_id, "plan": plans["ct"].pk}).content.decode()
    assert "4.99 €" in page and "0.95 €" in page and "5.94 €" in page  # 19 % of 4.99 = 0.9481 -> 0.95
    assert "Servers: 1 / 10" in page and "Memory: 1\xa0GB / " in page  # in GB, as the plans are sold


def test_a_windows_image_brings_its_licence_into_the_price_and_onto_the_order(alice_client, plans, windows_image):
    data = {"kind": "qemu", "cluster": windows_image.cluster_id, "plan": plans["vm"].pk, "image": windows_image.pk}
    page = alice_client.post("/order/", data).content.decode()
    # A 2-core server pays for Microsoft's minimum of 8 cores: 4 packs of 2 cores at 4.90.
    assert "Windows Server Standard (SPLA), 2 cores, per 2 cores (4 × 4.90 €)" in page and "19.60 €" in page
    assert "39.50 €" in page and "at least 8 cores per server" in page
    alice_client.post("/order/", {**data, "hostname": "dc", "password": "long-enough", "place": "1"})
    order = Order.objects.get()
    assert [(lic["code"], lic["minimum"], lic["price"]) for lic in order.licences] == [("windows-server-std", 8, "4.90")]


def test_a_linux_image_has_no_licence_line(alice_client, plans, vm_image):
    page = alice_client.post("/order/", {"kind": "qemu", "cluster": vm_image.cluster_id, "plan": plans["vm"].pk,
                                         "image": vm_image.pk}).content.decode()
    assert "SPLA" not in page and "19.90 €" in page


def test_a_blocked_order_names_the_exact_limit(alice_client, tenant_a, plans, vm_image):
    tenant_a.max_memory_mb = 2048
    tenant_a.save()
    page = alice_client.post("/order/", {"kind": "qemu", "cluster": vm_image.cluster_id, "plan": plans["vm"].pk}).content.decode()
    assert "Your tenant may use 2\u00a0GB memory; this would make 4\u00a0GB." in page
    response = alice_client.post("/order/", {"kind": "qemu", "cluster": vm_image.cluster_id, "plan": plans["vm"].pk,
                                             "image": vm_image.pk, "hostname": "app", "password": "long-enough", "place": "1"})
    assert response.status_code == 200 and Order.objects.count() == Server.objects.count() == 0


@pytest.mark.parametrize("field, value, message", [
    ("hostname", "Bad_Name", "lower-case"), ("password", "short", "at least 10"), ("password", "password", "too common"),
    ("password", "20261202123", "entirely numeric"), ("password", "bad\npassword-with-newline", "control characters"),
])
def test_bad_input_is_shown_at_the_field_and_orders_nothing(alice_client, plans, ct_image, field, value, message):
    data = {"kind": "lxc", "cluster": ct_image.cluster_id, "plan": plans["ct"].pk, "image": ct_image.pk, "hostname": "files",
            "password": "long-enough", "place": "1", field: value}
    response = alice_client.post("/order/", data)
    assert message in " ".join(response.context["form"].errors[field])
    assert Order.objects.count() == 0


def test_placing_an_order_builds_the_server(alice_client, plans, ct_image, worker):
    response = alice_client.post("/order/", {"kind": "lxc", "cluster": ct_image.cluster_id, "plan": plans["ct"].pk,
                                             "image": ct_image.pk, "hostname": "files", "password": "long-enough", "place": "1"})
    order = Order.objects.get()
    assert response.status_code == 302 and str(order.server.public_id) in response["Location"]
    assert (order.server.cores, order.server.memory_mb, order.price_monthly) == (1, 1024, Decimal("4.99"))
    # Built by the worker; waited for, or the worker still writes while the database is flushed for the next test.
    assert wait_done(order.server.operations.get(), timeout=60).state == "succeeded"


def test_viewers_cannot_order(bob, bob_client, plans):
    bob.memberships.update(role="viewer")
    assert bob_client.get("/order/").status_code == 403


def test_the_contract_page_shows_the_tier_and_who_does_what(alice_client, tenant_a):
    from services.actions import contract_start
    from services.models import ServiceTier

    assert "no managed-service contract" in alice_client.get("/contract/").content.decode()
    contract_start(tenant=tenant_a, tier=ServiceTier.objects.get(slug="gering"))
    page = alice_client.get("/contract/").content.decode()
    assert "gering" in page and "Backups" in page and "<strong>JIKU</strong>" in page


def test_another_tenants_contract_never_shows(charlie_client, tenant_a):
    from services.actions import contract_start
    from services.models import ServiceTier

    contract_start(tenant=tenant_a, tier=ServiceTier.objects.get(slug="gering"))
    assert "no managed-service contract" in charlie_client.get("/contract/").content.decode()
