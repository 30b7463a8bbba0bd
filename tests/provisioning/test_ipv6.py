"""IPv6: a routed prefix per server from the cluster's or node's pool, set in the guest, given back."""

import ipaddress

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from proxmoxer import ProxmoxAPI
from rest_framework.test import APIClient

from provisioning import actions
from provisioning.models import Backup, IPPool, Node, Operation, Server
from provisioning.placement import allocate_ipv6
from pvesim.util import parse_propstring
from tenants.actions import api_token_create

from .conftest import wait_done


def create(tenant, image, hostname="web-01"):
    server = actions.server_create(
        tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=10, password="long-enough"
    )
    return server, server.operations.get()


def built(tenant, image, hostname="web-01"):
    server, op = create(tenant, image, hostname)
    wait_done(op)
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    return server


def ok(op):
    wait_done(op)
    assert op.state == Operation.State.SUCCEEDED, op.error
    return op


def guest_config(pve, server):
    """Read back through the Proxmox API, as any client would."""
    api = ProxmoxAPI(f"127.0.0.1:{pve.port}", user=pve.token_id.split("!")[0], token_name=pve.token_id.split("!")[1],
                     token_value=pve.token_secret, verify_ssl=pve.ca_cert_path)
    return api.nodes(server.node.name).__getattr__(server.kind)(server.vmid).config.get()


def test_a_vm_gets_a_routed_prefix_and_its_first_address_in_cloud_init(tenant_a, vm_image, v6_pool, pve, worker):
    server = built(tenant_a, vm_image)
    assert (server.ipv6_prefix, server.ipv6) == ("2001:db8:0:100::/64", "2001:db8:0:100::1")
    ipconfig = parse_propstring(guest_config(pve, server)["ipconfig0"])
    assert ipconfig["ip6"] == "2001:db8:0:100::1/64"
    assert ipconfig["gw6"] == "fe80::1"
    assert ipconfig["ip"] == f"{server.ipv4}/24"


def test_a_container_gets_its_ipv6_address_in_net0(tenant_a, ct_image, v6_pool, pve, worker):
    server = built(tenant_a, ct_image)
    net0 = parse_propstring(guest_config(pve, server)["net0"])
    assert (net0["ip6"], net0["gw6"]) == ("2001:db8:0:100::1/64", "fe80::1")


def test_without_an_ipv6_pool_the_guest_keeps_slaac(tenant_a, vm_image, pve, worker):
    server = built(tenant_a, vm_image)
    assert server.ipv6 is None
    assert parse_propstring(guest_config(pve, server)["ipconfig0"])["ip6"] == "auto"


def test_delete_gives_the_prefix_back(tenant_a, vm_image, v6_pool, pve, worker):
    server = built(tenant_a, vm_image)
    ok(actions.server_delete(server=server, confirm_hostname="web-01"))
    server.refresh_from_db()
    assert (server.ipv6_prefix, server.ipv6) == (None, None)
    again = built(tenant_a, vm_image)
    assert again.ipv6_prefix == "2001:db8:0:100::/64"


def test_a_failed_build_releases_the_prefix(tenant_a, vm_image, v6_pool, pve, worker):
    pve.add_fault(method="POST", path=r"/qemu/9000/clone$", task_error="storage 'local-lvm' is full")
    server, op = create(tenant_a, vm_image)
    wait_done(op)
    server.refresh_from_db()
    assert op.state == Operation.State.FAILED
    assert (server.ipv4, server.ipv6_prefix, server.ipv6) == (None, None, None)
    pve.clear_faults()
    assert built(tenant_a, vm_image).ipv6_prefix == "2001:db8:0:100::/64"


def test_a_staging_copy_gets_its_own_prefix_and_promote_swaps_them(tenant_a, ct_image, v6_pool, pve, worker):
    prod = built(tenant_a, ct_image, "shop")
    staging = ok(actions.staging_create(server=prod)).server
    staging.refresh_from_db()
    assert staging.ipv6_prefix == "2001:db8:0:101::/64" != prod.ipv6_prefix
    ok(actions.staging_promote(staging=staging))
    staging.refresh_from_db()
    assert staging.ipv6 == "2001:db8:0:100::1"
    assert parse_propstring(guest_config(pve, staging)["net0"])["ip6"] == "2001:db8:0:100::1/64"


def test_a_restore_into_a_new_server_gets_its_own_prefix_in_its_config(tenant_a, vm_image, v6_pool, pve, worker):
    server = built(tenant_a, vm_image)
    ok(actions.backup_create(server=server, notes="before migration"))
    copy = ok(actions.backup_restore(backup=Backup.objects.get(), target="new", hostname="web-copy")).server
    copy.refresh_from_db()
    assert copy.ipv6_prefix == "2001:db8:0:101::/64" != server.ipv6_prefix
    assert parse_propstring(guest_config(pve, copy)["ipconfig0"])["ip6"] == "2001:db8:0:101::1/64"


def test_a_node_pool_is_used_before_the_cluster_pool(cluster, v6_pool):
    node = Node.objects.get(cluster=cluster, name="pve")
    IPPool.objects.create(cluster=cluster, node=node, name="pve-v6", network="2001:db8:1::/48", gateway="2001:db8:1::1",
                          range_start="2001:db8:1::", range_end="2001:db8:1:ffff::", server_prefixlen=56)
    prefix, address = allocate_ipv6(cluster, node)
    # The first /56 holds the gateway: it stays with the router.
    assert (prefix, address) == ("2001:db8:1:100::/56", "2001:db8:1:100::1")
    other = Node.objects.filter(cluster=cluster).exclude(pk=node.pk).first()
    assert allocate_ipv6(cluster, other)[0] == "2001:db8:0:100::/64"


def test_a_full_pool_refuses_the_order_and_reserves_nothing(tenant_a, vm_image, cluster, v6_pool):
    v6_pool.range_end = "2001:db8:0:100::"
    v6_pool.save()
    built_one, _op = create(tenant_a, vm_image, "one")
    with pytest.raises(ValidationError, match="IPv6"):
        create(tenant_a, vm_image, "two")
    assert list(Server.objects.values_list("hostname", flat=True)) == ["one"]


def test_a_pool_prefix_longer_than_its_network_is_refused(cluster):
    pool = IPPool(cluster=cluster, name="x", network="2001:db8::/64", gateway="fe80::1",
                  range_start="2001:db8::", range_end="2001:db8::", server_prefixlen=48)
    with pytest.raises(ValidationError) as info:
        pool.full_clean()
    assert "server_prefixlen" in info.value.message_dict


def test_the_server_page_and_api_show_the_ipv6_address(tenant_a, alice, vm_image, v6_pool, alice_client, pve, worker):
    server = built(tenant_a, vm_image)
    page = alice_client.get(reverse("provisioning:server_detail", args=[server.public_id]))
    assert "2001:db8:0:100::1" in page.content.decode()
    _token, text = api_token_create(tenant=tenant_a, user=alice, name="script")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    body = api.get(f"/api/v1/servers/{server.public_id}/").json()
    assert (body["ipv6"], body["ipv6_prefix"]) == ("2001:db8:0:100::1", "2001:db8:0:100::/64")
    assert ipaddress.ip_network(body["ipv6_prefix"]).prefixlen == 64
