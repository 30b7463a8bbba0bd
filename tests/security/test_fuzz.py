"""Generated bad input for forms and actions: never a server error, never a partial change."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning import actions
from provisioning.models import Cluster, Image, IPPool, Node, Server
from tenants import actions as tenant_actions

from .test_isolation_sweep import row_counts

NASTY = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["'; DROP TABLE tenants_tenant; --", "<script>alert(1)</script>", "../../etc/passwd", "\x00", "ñ" * 70,
                     "ssh-rsa AAAA", "ssh-ed25519 " + "A" * 5000, "{{ 7*7 }}", "%(name)s", "0" * 64, " ", "-web-"]),
)
NUMBERS = st.one_of(st.integers(min_value=-10**12, max_value=10**12), st.sampled_from([0, -1, 2**31, 2**63 - 1]))
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def image(db):
    cluster = Cluster.objects.create(name="C", api_url="127.0.0.1:1", token_id="a@pve!t")
    for name in ("pve", "pve2"):
        Node.objects.create(cluster=cluster, name=name, status="online", max_cores=32, max_memory_mb=131072, max_disk_gb=2000)
    IPPool.objects.create(cluster=cluster, name="p", network="192.0.2.0/24", gateway="192.0.2.1", range_start="192.0.2.10", range_end="192.0.2.250")
    return Image.objects.create(cluster=cluster, name="Debian", kind="lxc", volid="local:vztmpl/debian.tar.zst", min_disk_gb=2)


def either_valid_or_unchanged(call):
    before = row_counts()
    try:
        return call()
    except ValidationError:
        assert row_counts() == before, "a refused call changed something"
        return None


@FUZZ
@given(hostname=NASTY, cores=NUMBERS, memory=NUMBERS, disk=NUMBERS, password=NASTY)
def test_server_create_takes_any_input_without_crashing(tenant_a, image, hostname, cores, memory, disk, password):
    server = either_valid_or_unchanged(
        lambda: actions.server_create(tenant=tenant_a, image=image, hostname=hostname, cores=cores, memory_mb=memory, disk_gb=disk, password=password)
    )
    if server is not None:
        assert 1 <= len(server.hostname) <= 63 and server.cores > 0 and server.memory_mb > 0
        assert server.cores <= tenant_a.max_cores and server.memory_mb <= tenant_a.max_memory_mb
        Server.objects.filter(pk=server.pk).delete()


@FUZZ
@given(name=NASTY, key=NASTY)
def test_ssh_keys_take_any_input_without_crashing(tenant_a, alice, rf, name, key):
    request = rf.post("/")
    request.user = alice
    either_valid_or_unchanged(lambda: tenant_actions.ssh_key_add(tenant=tenant_a, user=alice, name=name, public_key=key, request=request))


@FUZZ
@given(name=NASTY, description=NASTY)
def test_snapshot_names_take_any_input_without_crashing(tenant_a, image, name, description):
    server, _ = Server.objects.get_or_create(tenant=tenant_a, cluster=image.cluster, kind="lxc", hostname="s", defaults=dict(cores=1, memory_mb=512, disk_gb=8, status="running", vmid=100))
    op = either_valid_or_unchanged(lambda: actions.snapshot_create(server=server, name=name, description=description))
    if op is not None:
        server.snapshots.all().delete()
        op.delete()


FORMS = [
    ("/servers/new/", ["image", "hostname", "cores", "memory_gb", "disk_gb", "password", "ssh_keys"]),
    ("/ssh-keys/", ["name", "public_key"]),
    ("/team/", ["email", "role"]),
    ("/tenant/settings/", ["name", "billing_address", "vat_id", "require_mfa"]),
]


@FUZZ
@given(index=st.integers(min_value=0, max_value=len(FORMS) - 1), values=st.lists(st.one_of(NASTY, NUMBERS.map(str)), min_size=7, max_size=7))
def test_forms_answer_bad_input_with_a_page_not_a_crash(alice_client, image, index, values):
    url, fields = FORMS[index]
    data = dict(zip(fields, values, strict=False))
    response = alice_client.post(url, data)
    assert response.status_code in (200, 302, 400, 403), (url, data, response.status_code)
