from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from provisioning.models import Node, Server
from services import actions, tasks
from services.contracts import default_backup_policy
from services.models import Contract, Offer, Order, ServiceTier, Target
from tenants.models import AuditEvent, Duty, Invitation, Party, Role, Tenant
from tests.conftest import make_user
from tests.notifications.outbox import deliver
from tests.provisioning.conftest import wait_for

from .conftest import SIGNED


def sample(seller, **kwargs):
    return actions.offer_create_sample(user=seller, language="en", **kwargs)


def test_the_sample_offer_starts_as_a_draft_at_revision_one(seller, plans):
    offer = sample(seller)
    assert (offer.state, offer.revision, offer.use_cases.count()) == (Offer.State.DRAFT, 1, 7)
    assert offer.revisions.get().monthly_net == Decimal("567.00")
    assert AuditEvent.objects.filter(action="offer.created", actor=seller).exists()


def test_a_user_without_the_sales_permission_creates_nothing(alice, plans):
    with pytest.raises(PermissionDenied):
        actions.offer_create_sample(user=alice)
    assert Offer.objects.count() == 0


def test_every_change_is_a_new_revision_with_its_snapshot(seller, plans):
    offer = sample(seller)
    cases = list(offer.use_cases.all())
    offer = actions.offer_update(offer=offer, user=seller, fields={"company": "Bäckerei Korn"}, use_cases=cases)
    assert offer.revision == 2
    assert offer.revisions.get(number=2).snapshot["company"] == "Bäckerei Korn"
    assert offer.revisions.get(number=1).snapshot["company"] == "Sample Customer Ltd"


@pytest.mark.parametrize("field,value", [("headroom_percent", 5000), ("employees", 0), ("setup_fee", Decimal("-1")),
                                         ("term_months", 0)])
def test_absurd_numbers_are_refused_and_nothing_changes(seller, plans, field, value):
    offer = sample(seller)
    with pytest.raises(ValidationError) as info:
        actions.offer_update(offer=offer, user=seller, fields={field: value}, use_cases=list(offer.use_cases.all()))
    assert field in info.value.message_dict
    offer.refresh_from_db()
    assert offer.revision == 1 and offer.revisions.count() == 1


def test_a_use_case_without_a_target_is_refused(seller, plans):
    offer = sample(seller)
    cases = list(offer.use_cases.all())
    cases[0].target = ""
    with pytest.raises(ValidationError, match="has no target"):
        actions.offer_update(offer=offer, user=seller, fields={}, use_cases=cases)
    assert offer.use_cases.filter(target="").count() == 0


def test_a_vm_without_plan_or_with_a_container_plan_is_refused(seller, plans):
    offer = sample(seller)
    cases = list(offer.use_cases.all())
    crm = next(c for c in cases if c.hostname == "crm")
    crm.plan = plans["offer-ct-m"]
    with pytest.raises(ValidationError, match="does not fit"):
        actions.offer_update(offer=offer, user=seller, fields={}, use_cases=cases)
    crm.plan = None
    with pytest.raises(ValidationError, match="needs a plan"):
        actions.offer_update(offer=offer, user=seller, fields={}, use_cases=cases)


def test_a_use_case_naming_an_unknown_licence_is_refused_through_the_action(seller, plans):
    offer = sample(seller)
    cases = list(offer.use_cases.all())
    cases[0].licences = ["rds-sal", "office-pirated"]
    with pytest.raises(ValidationError, match="not offered per user: office-pirated"):
        actions.offer_update(offer=offer, user=seller, fields={}, use_cases=cases)
    assert not offer.use_cases.filter(licences__contains="office-pirated").exists()


def test_shared_nodes_are_refused_when_the_setup_is_too_big(seller, plans):
    offer = sample(seller)
    with pytest.raises(ValidationError) as info:
        actions.offer_update(offer=offer, user=seller, fields={"hosting": "shared"}, use_cases=list(offer.use_cases.all()))
    assert "hosting" in info.value.message_dict


def test_contract_start_writes_the_responsibilities_and_ends_the_old_contract(tenant_a, seller):
    gering, mittel = ServiceTier.objects.get(slug="gering"), ServiceTier.objects.get(slug="mittel")
    first = actions.contract_start(tenant=tenant_a, tier=gering, user=seller)
    assert tenant_a.managed_by_jiku(Duty.APP_USERS)
    actions.contract_start(tenant=tenant_a, tier=mittel, duties={Duty.BACKUPS: Party.CUSTOMER}, user=seller)
    first.refresh_from_db()
    assert first.ended_at is not None
    assert Contract.objects.filter(tenant=tenant_a, ended_at__isnull=True).get().tier == mittel
    tenant_a = Tenant.objects.get(pk=tenant_a.pk)
    assert not tenant_a.managed_by_jiku(Duty.BACKUPS)
    assert tenant_a.managed_by_jiku(Duty.UPDATES)  # mittel's default


def test_the_tiers_backup_policy_applies_where_jiku_holds_backups(tenant_a, seller):
    assert default_backup_policy(tenant_a) is None
    actions.contract_start(tenant=tenant_a, tier=ServiceTier.objects.get(slug="gering"))
    assert default_backup_policy(tenant_a) == {"schedule": "daily 02:00", "keep_daily": 7, "keep_weekly": 4}
    actions.contract_start(tenant=tenant_a, tier=ServiceTier.objects.get(slug="hoch"))
    assert default_backup_policy(tenant_a) is None


def test_acceptance_waits_for_a_vds_that_is_not_installed_yet(seller, plans, cluster, ct_image, vm_image):
    offer = sample(seller, cluster=cluster)
    offer = actions.offer_update(offer=offer, user=seller, fields={"node_name": "vds-sample"},
                                 use_cases=list(offer.use_cases.all()))
    offer = actions.offer_accept(offer=offer, user=seller, **SIGNED)
    tenant = offer.tenant
    assert (offer.state, tenant.name) == (Offer.State.ACCEPTED, "Sample Customer Ltd")
    invitation = Invitation.objects.get(tenant=tenant)
    assert (invitation.email, invitation.role) == ("erika.mustermann@musterkunde.example", Role.OWNER)
    deliver()  # the worker's part: the invitation is a notification
    assert mail.outbox[-1].to == ["erika.mustermann@musterkunde.example"]
    node = Node.objects.get(cluster=cluster, name="vds-sample")
    assert (node.status, node.kind, node.dedicated_tenant, node.max_cores) == (Node.Status.AWAITING, Node.Kind.VDS, tenant, 12)
    assert list(Order.objects.filter(offer=offer).order_by("id").values_list("hostname", "state")) == [
        ("nextcloud", "pending"), ("crm", "pending"), ("terminal", "pending"), ("dc", "pending")]
    assert tenant.contracts.get().tier.slug == "gering"
    assert tenant.managed_by_jiku(Duty.BACKUPS)
    assert not Server.objects.filter(tenant=tenant).exists()

    tasks.place_pending_orders()
    assert Order.objects.filter(offer=offer, state=Order.State.PENDING).count() == 4  # still awaited

    # JIKU installed Proxmox on the VDS; reconcile saw it online; the periodic task builds.
    Node.objects.filter(pk=node.pk).update(status=Node.Status.ONLINE)
    tasks.place_pending_orders()
    assert Order.objects.filter(offer=offer, state=Order.State.PLACED).count() == 4
    servers = {s.hostname: s for s in Server.objects.filter(tenant=tenant)}
    assert servers["nextcloud"].node == node and servers["nextcloud"].kind == "lxc"
    assert servers["nextcloud"].vmid < servers["crm"].vmid


def test_accepting_on_the_online_node_pve_builds_nextcloud_as_100(seller, plans, cluster, ct_image, vm_image, worker):
    offer = actions.offer_accept(offer=sample(seller, cluster=cluster), user=seller, **SIGNED)
    assert set(Order.objects.filter(offer=offer).values_list("state", flat=True)) == {"placed"}
    nextcloud = Server.objects.get(tenant=offer.tenant, hostname="nextcloud")
    assert (nextcloud.vmid, nextcloud.node.name, nextcloud.kind) == (100, "pve", "lxc")

    def running():
        nextcloud.refresh_from_db()
        return nextcloud.status == Server.Status.RUNNING

    wait_for(running, timeout=60, message="nextcloud running")
    assert Node.objects.get(cluster=cluster, name="pve").dedicated_tenant == offer.tenant


def test_an_accepted_offer_cannot_be_accepted_again(seller, plans, cluster, ct_image, vm_image):
    offer = actions.offer_accept(offer=sample(seller, cluster=cluster), user=seller, **SIGNED)
    with pytest.raises(ValidationError, match="already been accepted"):
        actions.offer_accept(offer=offer, user=seller, **SIGNED)
    assert Tenant.objects.count() == 1
    assert Order.objects.count() == 4


def test_an_expired_offer_cannot_be_accepted(seller, plans, cluster, ct_image, vm_image):
    offer = sample(seller, cluster=cluster)
    offer = actions.offer_update(offer=offer, user=seller, fields={"valid_until": timezone.localdate() - timedelta(days=1)},
                                 use_cases=list(offer.use_cases.all()))
    with pytest.raises(ValidationError, match="expired"):
        actions.offer_accept(offer=offer, user=seller, **SIGNED)
    assert (Tenant.objects.count(), Order.objects.count(), Contract.objects.count()) == (0, 0, 0)
    assert not Node.objects.filter(dedicated_tenant__isnull=False).exists()
    assert actions.offers_expire() == 1


def test_a_declined_offer_cannot_be_accepted(seller, plans, cluster):
    offer = actions.offer_decline(offer=sample(seller, cluster=cluster), user=seller)
    with pytest.raises(ValidationError, match="declined"):
        actions.offer_accept(offer=offer, user=seller, **SIGNED)
    assert Tenant.objects.count() == 0


def test_a_vds_of_another_customer_is_never_taken_over(seller, plans, cluster, ct_image, vm_image, tenant_b):
    Node.objects.filter(cluster=cluster, name="pve").update(dedicated_tenant=tenant_b)
    with pytest.raises(ValidationError, match="another customer"):
        actions.offer_accept(offer=sample(seller, cluster=cluster), user=seller, **SIGNED)
    assert Tenant.objects.count() == 1 and Order.objects.count() == 0


def test_a_customer_cannot_accept_an_offer(seller, plans, cluster, alice):
    offer = sample(seller, cluster=cluster)
    with pytest.raises(PermissionDenied):
        actions.offer_accept(offer=offer, user=alice, **SIGNED)
    offer.refresh_from_db()
    assert offer.state == Offer.State.DRAFT


def test_an_offer_for_an_existing_customer_invites_nobody_new(seller, plans, cluster, ct_image, vm_image, tenant_a, alice):
    offer = sample(seller, cluster=cluster, tenant=tenant_a, contact_email=alice.email)
    offer = actions.offer_accept(offer=offer, user=seller, **SIGNED)
    assert offer.tenant == tenant_a
    assert not Invitation.objects.exists()
    assert Server.objects.filter(tenant=tenant_a).count() == 4


def test_a_pending_order_that_cannot_be_built_fails_with_the_reason(seller, plans, cluster, ct_image, vm_image):
    offer = sample(seller, cluster=cluster)
    make_user("erika.mustermann@musterkunde.example")
    cases = list(offer.use_cases.all())
    for case in cases:
        if case.target == Target.VM:
            case.hostname = "crm"  # three VMs, one guest: still valid, just one VM
    offer = actions.offer_update(offer=offer, user=seller, fields={"node_name": "vds-x"}, use_cases=cases)
    offer = actions.offer_accept(offer=offer, user=seller, **SIGNED)
    Node.objects.filter(name="vds-x").update(status=Node.Status.ONLINE, max_disk_gb=1)
    actions.orders_place_pending()
    order = Order.objects.get(offer=offer, hostname="crm")
    assert order.state == Order.State.FAILED
    assert "not enough free capacity" in order.error
