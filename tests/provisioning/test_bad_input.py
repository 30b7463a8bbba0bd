"""Bad input gets a clear error at the field and changes nothing."""

import pytest
from django.core.exceptions import ValidationError

from provisioning import actions
from provisioning.models import Image, Operation, Server
from tenants.models import SSHKey

from .conftest import wait_done


def counts():
    return Server.objects.count(), Operation.objects.count()


def assert_rejected(field, call, contains):
    before = counts()
    with pytest.raises(ValidationError) as info:
        call()
    errors = info.value.message_dict if hasattr(info.value, "error_dict") else {"__all__": info.value.messages}
    assert field in errors, errors
    assert contains in " ".join(errors[field])
    assert counts() == before


def create(tenant, image, **kw):
    args = {"hostname": "web-01", "cores": 1, "memory_mb": 1024, "disk_gb": 10, "password": "long-enough", **kw}
    return lambda: actions.server_create(tenant=tenant, image=image, **args)


@pytest.mark.parametrize(
    "hostname, message",
    [
        ("a" * 64, "at most 63"),
        ("Web_01", "lower-case"),
        ("-web", "hyphen"),
        ("web-", "hyphen"),
        ("wéb", "lower-case"),
        ("", "Enter a hostname"),
        ("web 01", "lower-case"),
    ],
)
def test_it_rejects_bad_hostnames(tenant_a, vm_image, hostname, message):
    assert_rejected("hostname", create(tenant_a, vm_image, hostname=hostname), message)


def test_it_rejects_a_duplicate_hostname_in_the_tenant(tenant_a, tenant_b, vm_image):
    actions.server_create(tenant=tenant_a, image=vm_image, hostname="web-01", cores=1, memory_mb=1024, disk_gb=10, password="long-enough")
    assert_rejected("hostname", create(tenant_a, vm_image), "already have a server called web-01")
    # Another tenant may use the same name.
    actions.server_create(tenant=tenant_b, image=vm_image, hostname="web-01", cores=1, memory_mb=1024, disk_gb=10, password="long-enough")


def test_it_names_the_exact_quota_limit(tenant_a, vm_image):
    tenant_a.max_memory_mb = 16384
    tenant_a.save()
    actions.server_create(tenant=tenant_a, image=vm_image, hostname="db", cores=2, memory_mb=12288, disk_gb=10, password="long-enough")
    assert_rejected(
        "memory_mb",
        create(tenant_a, vm_image, memory_mb=8192),
        "Your tenant may use 16\u00a0GB memory; this would make 20\u00a0GB.",
    )


def test_it_rejects_a_server_count_over_quota(tenant_a, vm_image):
    tenant_a.max_servers = 1
    tenant_a.save()
    actions.server_create(tenant=tenant_a, image=vm_image, hostname="one", cores=1, memory_mb=512, disk_gb=10, password="long-enough")
    assert_rejected("__all__", create(tenant_a, vm_image, hostname="two"), "1 servers; this would make 2")


def test_it_rejects_another_tenants_image(tenant_a, tenant_b, cluster):
    private = Image.objects.create(cluster=cluster, tenant=tenant_b, name="bravo-app", kind="qemu", template_vmid=9001, template_node="pve")
    assert_rejected("image", create(tenant_a, private), "offered images")


def test_it_rejects_another_tenants_ssh_key(tenant_a, tenant_b, vm_image):
    key = SSHKey.objects.create(tenant=tenant_b, name="k", key_type="ssh-ed25519", public_key="ssh-ed25519 AAAA", fingerprint="f")
    assert_rejected("ssh_keys", create(tenant_a, vm_image, ssh_keys=[key]), "own tenant")


def test_it_rejects_a_disk_smaller_than_the_image_needs(tenant_a, vm_image):
    assert_rejected("disk_gb", create(tenant_a, vm_image, disk_gb=2), "a disk of at least 4\u00a0GB.")


def test_it_explains_when_no_node_has_room(tenant_a, vm_image):
    tenant_a.max_memory_mb = 10**7
    tenant_a.save()
    assert_rejected("__all__", create(tenant_a, vm_image, memory_mb=500_000), "No node with 488.3\u00a0GB free memory in cluster Test (at most 128\u00a0GB free).")


def test_resize_cannot_shrink_the_disk(tenant_a, vm_image, worker):
    server = actions.server_create(tenant=tenant_a, image=vm_image, hostname="web-01", cores=1, memory_mb=1024, disk_gb=10, password="long-enough")
    wait_done(server.operations.get())
    server.refresh_from_db()
    assert_rejected("disk_gb", lambda: actions.server_resize(server=server, cores=1, memory_mb=1024, disk_gb=5), "only grow")
    server.refresh_from_db()
    assert server.disk_gb == 10


def test_actions_in_the_wrong_state_are_refused(tenant_a, vm_image, worker):
    server = actions.server_create(tenant=tenant_a, image=vm_image, hostname="web-01", cores=1, memory_mb=1024, disk_gb=10, password="long-enough")
    # While it builds, nothing else may start.
    assert_rejected("__all__", lambda: actions.server_power(server=server, action="stop"), "still running")
    wait_done(server.operations.get())
    server.refresh_from_db()
    assert_rejected("__all__", lambda: actions.server_power(server=server, action="start"), "Only a stopped server")
    assert_rejected("confirm_hostname", lambda: actions.server_delete(server=server, confirm_hostname="web-02"), "hostname")


def test_a_suspended_tenant_cannot_order(tenant_a, vm_image):
    tenant_a.status = "suspended"
    tenant_a.save()
    assert_rejected("__all__", create(tenant_a, vm_image), "suspended")


def test_a_pinned_node_must_accept_servers_and_belong_to_the_tenant(tenant_a, tenant_b, vm_image, cluster):
    node = cluster.nodes.get(name="pve2")
    node.dedicated_tenant = tenant_b
    node.save()
    assert_rejected("__all__", create(tenant_a, vm_image, node=node), "dedicated to another customer")
    node.dedicated_tenant, node.maintenance = None, True
    node.save()
    assert_rejected("__all__", create(tenant_a, vm_image, node=node), "does not accept new servers")
    node.maintenance = False
    node.save()
    server = create(tenant_a, vm_image, node=node)()
    assert server.node == node
