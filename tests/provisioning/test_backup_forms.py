"""The backup forms say only what is true: no schedule ticked without one, no overwrite without the original."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning import actions
from provisioning.models import Backup, BackupPolicy, Server


@pytest.fixture
def alice_server(tenant_a, ct_image):
    return actions.server_create(tenant=tenant_a, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                 password="long-enough")


def backup_of(server):
    return Backup.objects.create(
        tenant=server.tenant, server=server, cluster=server.cluster, node="pve", storage="backup", kind="lxc",
        volid="backup:backup/vzdump-lxc-100-2026_11_26-01_00_00.tar.zst", hostname=server.hostname, created_at=timezone.now(),
    )


def schedule_checkbox(alice_client, server):
    page = alice_client.get(reverse("provisioning:server_backups", args=[server.public_id])).content.decode()
    return re.search(r'<input type="checkbox" name="enabled"[^>]*>', page).group(0)


def test_scheduled_backups_is_not_ticked_until_a_schedule_exists(alice_client, alice_server):
    assert "checked" not in schedule_checkbox(alice_client, alice_server)
    BackupPolicy.objects.create(server=alice_server, enabled=True)
    assert "checked" in schedule_checkbox(alice_client, alice_server)
    BackupPolicy.objects.filter(server=alice_server).update(enabled=False)
    assert "checked" not in schedule_checkbox(alice_client, alice_server)


def test_the_restore_form_offers_replacing_the_data_only_while_the_original_server_exists(alice_client, alice_server):
    backup = backup_of(alice_server)
    page = alice_client.get(reverse("provisioning:backup_list")).content.decode()
    assert 'value="same"' in page and 'name="confirm"' in page

    Server.objects.filter(pk=alice_server.pk).update(status=Server.Status.DELETED)
    page = alice_client.get(reverse("provisioning:backup_list")).content.decode()
    assert backup.hostname in page
    assert 'value="same"' not in page and 'name="confirm"' not in page
    assert 'value="new"' in page
