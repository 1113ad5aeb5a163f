"""Browser tests: a real server for a throwaway practice, driven by Debian's headless Chromium.

- Chromium is Debian's (`make test` installs it through `make browser`); Playwright never downloads one.
  CHROMIUM_PATH names another binary. Without one, these tests are skipped, saying why.
- The practice ("e2e-<random>") is made with the real create_practice once per module and dropped at the
  end, as tests/throwaway.py explains: the server's threads only see committed rows, so the tests
  are `django_db(transaction=True)` and leave the main connection in the practice's schema, so that the
  flush after each test empties that schema only (never public, where the session's practices live).
- The server is Django's live-server thread (a threaded WSGI server serving static files too) on
  127.0.0.1 and a free port; the browser asks for http://e2e-<random>.localhost:<port>/ so the request is
  routed to the practice by its host, as in production.
- `person(...)` opens a browser context of its own for each person (a patient, the front desk): separate
  cookies, as on two devices. Anything the browser refuses under the Content-Security-Policy (it says so on
  the console) fails the test. When a test fails, every open page is saved as a screenshot and the paths
  are printed with the failure.
"""

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import override_settings
from django.test.testcases import LiveServerThread, _StaticFilesHandler
from playwright.sync_api import Browser, Page, expect, sync_playwright

from patients import sms
from practices.models import Practice
from tests.throwaway import entered, throwaway_practice

HERE = Path(__file__).resolve().parent
# Each page load or click waits this long at most (Playwright's own default is 30 s).
ACTION_TIMEOUT_MS = 10_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)
# What the Content-Security-Policy is meant to refuse: ReDoc (/api/redoc/) always asks for Redocly's logo from
# their CDN; the policy keeps the page from loading it, and the page is fine without.
EXPECTED_REFUSALS = ("https://cdn.redoc.ly/",)


def chromium_path() -> tuple[str | None, str]:
    """The Chromium to drive, or None and why there is none."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        if os.access(configured, os.X_OK):
            return configured, ""
        return None, f"CHROMIUM_PATH={configured} is not an executable file"
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if found:
        return found, ""
    return None, "Chromium is not installed (`make browser` installs it; CHROMIUM_PATH names another binary)"


def pytest_collection_modifyitems(config, items):
    executable, why = chromium_path()
    if executable:
        return
    skip = pytest.mark.skip(reason=f"browser test skipped: {why}")
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    pages = getattr(item, "e2e_pages", None)
    if report.failed and report.when == "call" and pages:
        folder = item.e2e_screenshot_dir
        saved = []
        for index, (who, page) in enumerate(pages):
            path = folder / f"{index}-{re.sub(r'[^a-z0-9]+', '-', who.lower())}.png"
            try:
                page.screenshot(path=path, full_page=True)
            except Exception as exc:  # a crashed page must not hide the test's own failure
                saved.append(f"{who}: no screenshot ({exc})")
            else:
                saved.append(f"{who} at {page.url}: {path}")
        report.sections.append(("browser screenshots", "\n".join(saved)))
    return report


# ---------------------------------------------------------------- the practice and its server


@pytest.fixture(scope="module")
def e2e_practice(django_db_setup, django_db_blocker) -> Iterator[Practice]:
    yield from throwaway_practice(django_db_blocker, prefix="e2e", name="Browser Test Clinic")


@pytest.fixture(scope="module")
def server_url(e2e_practice, django_db_blocker) -> Iterator[str]:
    """The practice's address on a real server thread, e.g. http://e2e-1a2b3c4d.localhost:41234."""
    with django_db_blocker.unblock():
        host = e2e_practice.domains.get(is_primary=True).domain
    thread = LiveServerThread("127.0.0.1", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        # Links the pages write out (share links, sign-in links) carry this server's port.
        with override_settings(SITE_PORT=str(thread.port)):
            yield f"http://{host}:{thread.port}"
    finally:
        thread.terminate()


@pytest.fixture
def practice(e2e_practice, server_url) -> Iterator[Practice]:
    yield from entered(e2e_practice)


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.reset_outbox()
    yield
    sms.reset_outbox()


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable, _ = chromium_path()
    # Playwright's synchronous API keeps an event loop running in this thread, which Django takes for
    # async code: it refuses ORM calls, and keeps this thread's database connections apart from the ones
    # opened before the loop started. The tests call the ORM between browser steps on purpose (arranging
    # data, checking what was stored): allowed for this module only, and the connections opened meanwhile
    # are closed before the loop stops (nothing could close them afterwards).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable,
                # Every practice host goes to this machine, whatever BASE_DOMAIN is.
                args=[f"--host-resolver-rules=MAP *.{settings.BASE_DOMAIN} 127.0.0.1", "--disable-gpu"],
            )
            try:
                yield browser
            finally:
                connections.close_all()
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def person(browser, server_url, practice, request, tmp_path) -> Iterator[Callable[[str], Page]]:
    """`person("patient")` opens a page in a new browser context (its own cookies) on the practice."""
    contexts = []
    pages: list[tuple[str, Page]] = []
    request.node.e2e_pages = pages
    request.node.e2e_screenshot_dir = tmp_path

    def open_as(who: str) -> Page:
        # Service workers off: the patient app registers one, and its requests would outlive the test.
        context = browser.new_context(
            base_url=server_url, service_workers="block", viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        # Chromium enforces the Content-Security-Policy and reports what it refused on the console.
        page.on(
            "console",
            lambda message: (
                refused.append(f"{who}: {message.text}")
                if "Content Security Policy" in message.text and not any(ok in message.text for ok in EXPECTED_REFUSALS)
                else None
            ),
        )
        pages.append((who, page))
        return page

    refused: list[str] = []
    yield open_as
    for context in contexts:
        context.close()
    assert not refused, "the browser refused what the pages asked for under the Content-Security-Policy:\n" + (
        "\n".join(refused)
    )
