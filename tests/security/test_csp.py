"""The Content-Security-Policy header, and templates that need nothing it forbids."""

import re
from pathlib import Path

from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# Print documents keep their own <style>: WeasyPrint reads the same HTML for the PDF.
# The prospect's offer pages share that self-contained style (their views widen the policy for it).
OWN_STYLE = {"services/offer_print.html", "billing/invoice_print.html", "services/offer_public_closed.html"}
# E-mails are no pages: no policy applies, and mail clients need their styles inline.
MAILS = "notifications/email/"


def test_pages_forbid_inline_script(alice_client):
    policy = alice_client.get("/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_only_the_api_docs_allow_their_widgets_inline_script(client, db):
    assert "'unsafe-inline'" in client.get("/api/v1/docs/").headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in client.get("/accounts/login/").headers["Content-Security-Policy"]


def test_no_template_has_inline_handlers_scripts_or_styles():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        name = path.relative_to(TEMPLATES).as_posix()
        if name.startswith(MAILS):
            continue
        text = path.read_text()
        for pattern in (r"\son[a-z]+\s*=", r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", r"\sstyle\s*=", r"javascript:"):
            found += [f"{name}: {m.group(0)}" for m in re.finditer(pattern, text)]
        if name not in OWN_STYLE:
            found += [f"{name}: <style>" for _ in re.finditer(r"<style\b", text)]
    assert found == []
