"""Each staff role's rights, on purpose: one table over the admin, staff and sales URLs.

Admins do everything. Operators run operations (maintenance, drain, reconcile, test connection,
retry/cancel, drift, marketplace, service requests) and read the rest, but never change a
cluster's credentials and never delete clusters, nodes, servers or images. Sales sell and see
no operations page.
"""

import pytest
from django.urls import reverse

from provisioning.models import Cluster, Drift, Image, IPPool, Node, Operation, Server
from tenants.models import ServiceRequest

from .conftest import make_servers

pytestmark = pytest.mark.django_db
SECRET = "9f1c-operators-never-see-this-token"
ROLES = ("dora", "otto", "sam")  # Admin, Operator, Sales (tests/staff/conftest.py)


@pytest.fixture
def world(tenant_a, offline_cluster):
    offline_cluster.token_secret = SECRET
    offline_cluster.save()
    server = make_servers(tenant_a, offline_cluster, 1)[0]
    image = Image.objects.create(cluster=offline_cluster, name="TurnKey WordPress", kind=Image.Kind.LXC, source=Image.Source.APPLIANCE,
                                 volid="local:vztmpl/debian-12-turnkey-wordpress_18.0-1_amd64.tar.gz", nodes=["pve"], approved=False)
    pool = IPPool.objects.create(cluster=offline_cluster, name="v4", network="192.0.2.0/24", gateway="192.0.2.1",
                                 range_start="192.0.2.10", range_end="192.0.2.20")
    return {
        "cluster": offline_cluster.pk, "node": offline_cluster.nodes.first().pk, "server": server.pk, "image": image.pk,
        "ippool": pool.pk, "tenant": tenant_a.pk, "op": Operation.objects.get(server=server).public_id,
        "drift": Drift.objects.create(cluster=offline_cluster, kind=Drift.Kind.MISSING, vmid=4242, node_name="pve").pk,
        "drift2": Drift.objects.create(cluster=offline_cluster, kind=Drift.Kind.MISSING, vmid=4243, node_name="pve").pk,
        "request": ServiceRequest.objects.create(tenant=tenant_a, duty="backups", subject="Restore please").public_id,
    }


# (method, URL name, argument key or None, answers for dora / otto / sam)
OK, REDIRECT, FORBIDDEN, GONE = 200, 302, 403, 404
TABLE = [
    # the admin: clusters hold the credentials
    ("get", "admin:provisioning_cluster_changelist", None, (OK, OK, FORBIDDEN)),
    ("get", "admin:provisioning_cluster_change", "cluster", (OK, OK, FORBIDDEN)),  # operators: read-only
    ("post", "admin:provisioning_cluster_change", "cluster", (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:provisioning_cluster_add", None, (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:provisioning_cluster_delete", "cluster", (OK, FORBIDDEN, FORBIDDEN)),
    # nodes: operated, never deleted
    ("get", "admin:provisioning_node_changelist", None, (OK, OK, FORBIDDEN)),
    ("get", "admin:provisioning_node_change", "node", (OK, OK, FORBIDDEN)),
    ("get", "admin:provisioning_node_add", None, (OK, OK, FORBIDDEN)),
    ("get", "admin:provisioning_node_delete", "node", (OK, FORBIDDEN, FORBIDDEN)),
    # servers: read by operators, changed through actions only
    ("get", "admin:provisioning_server_change", "server", (OK, OK, FORBIDDEN)),
    ("post", "admin:provisioning_server_change", "server", (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:provisioning_server_delete", "server", (OK, FORBIDDEN, FORBIDDEN)),
    # images: imported and approved by operators, deleted by admins
    ("get", "admin:provisioning_image_change", "image", (OK, OK, FORBIDDEN)),
    ("get", "admin:provisioning_image_add", None, (OK, OK, FORBIDDEN)),
    ("get", "admin:provisioning_image_delete", "image", (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:provisioning_ippool_change", "ippool", (OK, OK, FORBIDDEN)),
    ("get", "admin:provisioning_ippool_delete", "ippool", (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:provisioning_operation_changelist", None, (OK, OK, FORBIDDEN)),
    ("get", "admin:provisioning_drift_changelist", None, (OK, OK, FORBIDDEN)),
    # tenants: operators read, admins run them
    ("get", "admin:tenants_tenant_changelist", None, (OK, OK, FORBIDDEN)),
    ("get", "admin:tenants_tenant_add", None, (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:tenants_tenant_delete", "tenant", (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:tenants_servicerequest_changelist", None, (OK, OK, FORBIDDEN)),
    ("get", "admin:auth_user_changelist", None, (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:django_celery_beat_periodictask_changelist", None, (OK, OK, FORBIDDEN)),
    # what is sold
    ("get", "admin:services_offer_changelist", None, (OK, FORBIDDEN, OK)),
    # Offers are written in the sales pages, where every change is a new revision; the admin only shows them.
    ("get", "admin:services_offer_add", None, (FORBIDDEN, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:services_plan_changelist", None, (OK, FORBIDDEN, OK)),
    ("get", "services:offer_list", None, (OK, FORBIDDEN, OK)),
    # the staff pages: operations
    ("get", "staff:overview", None, (OK, OK, FORBIDDEN)),
    ("get", "staff:node", "node", (OK, OK, FORBIDDEN)),
    ("get", "staff:operations", None, (OK, OK, FORBIDDEN)),
    ("get", "staff:drift_list", None, (OK, OK, FORBIDDEN)),
    ("get", "staff:marketplace", None, (OK, OK, FORBIDDEN)),
    ("get", "staff:requests", None, (OK, OK, FORBIDDEN)),
    ("post", "staff:cluster_reconcile", "cluster", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:cluster_test", "cluster", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:node_maintenance", "node", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:node_drain", "node", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:operation_retry", "op", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:operation_cancel", "op", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:drift_ignore", "drift", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:drift_deleted", "drift2", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:marketplace_approve", "image", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:marketplace_fetch", "image", (REDIRECT, REDIRECT, FORBIDDEN)),
    ("post", "staff:request_answer", "request", (REDIRECT, REDIRECT, FORBIDDEN)),
    # billing data: admins (and the Billing role, tests/billing/test_pages.py) only
    ("get", "billing:staff", None, (OK, GONE, GONE)),
    ("get", "billing:staff_statement", None, (OK, GONE, GONE)),
    ("post", "billing:staff_run", None, (REDIRECT, GONE, GONE)),
    ("get", "admin:billing_invoice_changelist", None, (OK, FORBIDDEN, FORBIDDEN)),
    ("get", "admin:billing_rate_add", None, (OK, FORBIDDEN, FORBIDDEN)),
]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_what_it_should(request, world, role):
    client = request.getfixturevalue(f"{role}_client")
    wrong = []
    for method, name, arg, answers in TABLE:
        url = reverse(name, args=[world[arg]] if arg else [])
        status = getattr(client, method)(url).status_code
        if status != answers[ROLES.index(role)]:
            wrong.append(f"{method.upper()} {name}: {status}, expected {answers[ROLES.index(role)]}")
    assert not wrong, "\n".join(wrong)


def test_an_operator_cannot_change_a_clusters_address_token_or_tls(otto_client, world):
    url = reverse("admin:provisioning_cluster_change", args=[world["cluster"]])
    page = otto_client.get(url).content.decode()
    for field in ("api_url", "token_id", "token_secret", "ca_cert", "verify_tls"):
        assert f'name="{field}"' not in page, field
    assert SECRET not in page
    response = otto_client.post(url, {"name": "Frankfurt", "api_url": "evil.example:8006", "token_id": "x@pve!x",
                                      "token_secret": "stolen", "verify_tls": "", "ca_cert": ""})
    assert response.status_code == 403
    cluster = Cluster.objects.get(pk=world["cluster"])
    assert (cluster.api_url, cluster.token_id, cluster.token_secret, cluster.verify_tls) == (
        "127.0.0.1:1", "portal@pve!t", SECRET, True)


def test_an_admin_changes_a_clusters_token_without_seeing_the_old_one(dora_client, world):
    url = reverse("admin:provisioning_cluster_change", args=[world["cluster"]])
    page = dora_client.get(url).content.decode()
    assert 'name="token_secret"' in page and SECRET not in page


def test_operators_reconcile_and_test_clusters_from_the_admin_but_delete_nothing(otto_client, dora_client, world):
    changelist = otto_client.get(reverse("admin:provisioning_cluster_changelist")).content.decode()
    assert 'value="reconcile_now"' in changelist and 'value="test_connection"' in changelist
    assert 'value="delete_selected"' not in changelist
    assert 'value="delete_selected"' in dora_client.get(reverse("admin:provisioning_cluster_changelist")).content.decode()
    for model, key in (("node", "node"), ("server", "server"), ("image", "image"), ("cluster", "cluster")):
        otto_client.post(reverse(f"admin:provisioning_{model}_changelist"),
                         {"action": "delete_selected", "_selected_action": [world[key]], "post": "yes"})
    assert Node.objects.filter(pk=world["node"]).exists() and Server.objects.filter(pk=world["server"]).exists()
    assert Image.objects.filter(pk=world["image"]).exists() and Cluster.objects.filter(pk=world["cluster"]).exists()


def test_an_operator_cannot_remove_nodes_through_the_cluster_page(otto_client, world):
    page = otto_client.get(reverse("admin:provisioning_cluster_change", args=[world["cluster"]])).content.decode()
    assert "nodes-0-DELETE" not in page


def test_an_operator_reconciles_from_the_staff_page(otto_client, world):
    page = otto_client.get(reverse("staff:overview")).content.decode()
    assert reverse("staff:cluster_reconcile", args=[world["cluster"]]) in page
    assert reverse("staff:cluster_test", args=[world["cluster"]]) in page
    otto_client.post(reverse("staff:cluster_reconcile", args=[world["cluster"]]))
    # Nothing listens on 127.0.0.1:1: the reconcile ran and recorded why it failed.
    assert Cluster.objects.get(pk=world["cluster"]).reconcile_error


def test_operators_put_nodes_into_maintenance(otto_client, world):
    otto_client.post(reverse("staff:node_maintenance", args=[world["node"]]), {"maintenance": "1"})
    assert Node.objects.get(pk=world["node"]).maintenance


def test_sales_staff_see_no_operations_link_and_no_tenant_admin(sam_client, world):
    index = sam_client.get(reverse("admin:index")).content.decode()
    assert "/admin/provisioning/" not in index and "/admin/tenants/" not in index
    assert "/admin/services/offer/" in index


def test_maintenance_and_draining_change_only_through_the_audited_actions(dora_client, world):
    node = Node.objects.filter(cluster=world["cluster"]).first()
    page = dora_client.get(reverse("admin:provisioning_node_change", args=[node.pk])).content.decode()
    assert 'name="maintenance"' not in page and 'name="draining"' not in page
    assert 'value="maintenance_on"' in dora_client.get(reverse("admin:provisioning_node_changelist")).content.decode()


def test_a_jiku_admin_gives_roles_but_cannot_make_a_superuser(dora, dora_client, otto):
    page = dora_client.get(reverse("admin:auth_user_change", args=[otto.pk])).content.decode()
    assert 'name="groups"' in page and 'name="is_superuser"' not in page


def test_staff_accounts_do_not_join_customer_tenants_by_invitation(otto, tenant_a):
    from django.core.exceptions import ValidationError

    from tenants.actions import invitation_accept
    from tenants.models import Invitation

    invitation = Invitation.objects.create(tenant=tenant_a, email=otto.email, token="t" * 32)
    with pytest.raises(ValidationError, match="staff"):
        invitation_accept(invitation=invitation, user=otto, request=None)
    assert not tenant_a.memberships.filter(user=otto).exists()
