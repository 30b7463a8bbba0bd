"""The activity log says what happened in words, in the reader's language; unknown codes still read."""

import re
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from tenants.audit import audit_record
from tenants.audit_labels import LABELS, describe

# Every dotted `action="..."` in the code is an audit code, whichever door writes it (audit_record,
# the tenant's audit method); written as literals, so this test sees them all.
CODE = re.compile(r'\baction="([a-z_]+\.[a-z_]+)"')


def test_every_audit_code_written_in_the_code_has_a_label():
    written = set()
    for app in ("portal", "tenants", "provisioning", "services", "billing", "notifications"):
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            written |= set(CODE.findall(path.read_text()))
    assert written and sorted(written - set(LABELS)) == []


def test_an_event_reads_as_a_sentence_in_english_and_german():
    with translation.override("en"):
        assert describe("server.create", "app-01") == "Server app-01 created"
    with translation.override("de"):
        assert describe("server.create", "app-01") == "Server app-01 erstellt"


def test_an_unknown_code_falls_back_to_the_code_and_object():
    assert describe("gadget.polish", "g-1") == "gadget.polish: g-1"


def test_the_activity_page_shows_words_not_codes(alice_client, tenant_a, alice):
    audit_record(action="ssh_key.added", tenant=tenant_a, actor=alice, actor_label=alice.email)
    page = alice_client.get(reverse("tenants:audit")).content.decode()
    assert "SSH key – added" in page
    assert ">ssh_key.added<" not in page
