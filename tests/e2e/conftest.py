"""Headless Debian Chromium driven by Playwright against pytest-django's live server."""

import os
import re
import time
from pathlib import Path

import pytest
from django.core import mail

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A PDF is made while the request waits (WeasyPrint, and for invoices the e-invoice XML): with the
# suite in several processes on two cores that can take longer than the default 10 s.
PDF_TIMEOUT = 60_000
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]



@pytest.fixture(scope="module")
def chromium(django_db_setup):
    """One browser per module, started after the test database exists.

    While Playwright's sync API runs, its event loop sits in this thread and Django refuses ORM calls
    here (test bodies, fixtures, the database flush between tests). The escape hatch is switched on
    for exactly that span, so tests outside tests/e2e keep Django's check.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def browser(chromium, transactional_db):
    """The module's browser for one test. The contexts the test opened are closed when it ends and
    before its tables are emptied: a page left open goes on polling the live server, and a request
    running during the flush can deadlock with it and fail the next test."""
    yield chromium
    for context in list(chromium.contexts):
        context.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


# Playwright's init script is not subject to the page's policy; it reports every violation to the console.
CSP_REPORT = """document.addEventListener("securitypolicyviolation", (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));"""


def csp_watched_page(browser, live_server, locale, *, width=1280, height=900, timeout=10_000):
    """A page in a fresh context whose Content-Security-Policy violations land in `page.violations`."""
    context = browser.new_context(base_url=live_server.url, locale=locale, viewport={"width": width, "height": height})
    context.set_default_timeout(timeout)
    context.add_init_script(CSP_REPORT)
    page = context.new_page()
    page.violations = []

    def on_console(message):
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            page.violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return page


def screenshot(page, name):
    """Keeps a picture of a key page for humans to look at (test-artifacts/ is not committed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def link_in_last_mail(to, pattern=r"https?://\S+", timeout=30):
    """The link in the newest mail to `to` that has one; waits for it, since notifications (an
    invitation) are mailed by the worker a moment after the page answered."""
    deadline = time.monotonic() + timeout
    while True:
        found = [match.group(0) for m in reversed(mail.outbox) if to in m.to
                 for match in [re.search(pattern, m.body)] if match]
        if found or time.monotonic() > deadline:
            assert found, f"no mail to {to} with a link like {pattern}"
            return found[0]
        time.sleep(0.2)
