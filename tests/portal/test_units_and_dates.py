"""Sizes in GB as customers read them, dates in the reader's language with a 24-hour clock."""

import datetime

from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from provisioning.models import Server
from tests.provisioning.conftest import cluster, ct_image, pve, sim  # noqa: F401 - fixtures


def render(text, **context):
    return Template("{% load units %}" + text).render(Context(context))


def test_memory_reads_in_mb_below_one_gb_and_in_gb_above():
    with translation.override("en"):
        assert render("{{ 512|memory }}") == "512\u00a0MB"
        assert render("{{ 4096|memory }}") == "4\u00a0GB"
        assert render("{{ 1536|memory }}") == "1.5\u00a0GB"
    with translation.override("de"):
        assert render("{{ 1536|memory }}") == "1,5\u00a0GB"


def test_disk_reads_in_gb_and_whole_terabytes():
    assert render("{{ 80|disk }}") == "80\u00a0GB"
    assert render("{{ 2048|disk }}") == "2\u00a0TB"
    assert render("{{ 1500|disk }}") == "1500\u00a0GB"


def test_times_use_the_24_hour_clock_in_german_and_in_english():
    moment = datetime.datetime(2026, 12, 3, 18, 5)
    with translation.override("de"):
        assert render('{{ m|date:"SHORT_DATETIME_FORMAT" }}', m=moment) == "03.12.2026 18:05"
    with translation.override("en"):
        assert render('{{ m|date:"SHORT_DATETIME_FORMAT" }}', m=moment) == "3 Dec 2026, 18:05"


def test_the_server_list_shows_sizes_in_gb(alice_client, tenant_a, ct_image):  # noqa: F811
    Server.objects.create(tenant=tenant_a, cluster=ct_image.cluster, kind="lxc", hostname="s0", cores=1, memory_mb=2048,
                          disk_gb=20, image=ct_image)
    page = alice_client.get(reverse("provisioning:server_list")).content.decode()
    assert "2\u00a0GB · 20\u00a0GB" in page and "MiB" not in page


def test_the_backup_time_is_a_plain_24_hour_field(alice_client, tenant_a, ct_image):  # noqa: F811
    server = Server.objects.create(tenant=tenant_a, cluster=ct_image.cluster, kind="lxc", hostname="s0", cores=1,
                                   memory_mb=2048, disk_gb=20, image=ct_image)
    page = alice_client.get(reverse("provisioning:server_backups", args=[server.public_id])).content.decode()
    assert 'name="time" value="02:00"' in page and 'type="time"' not in page
