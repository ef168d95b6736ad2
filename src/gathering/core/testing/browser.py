"""For real-browser tests (Playwright) on pages under the site's Content-Security-Policy.

``watch_csp(page)`` starts listening before the first navigation; every violation of the page
and of the documents it navigates to afterwards (the ``securitypolicyviolation`` events and
Chromium's "Refused to ..." console errors) lands in the returned list.

``wait_until(page, expression)`` replaces Playwright's ``page.wait_for_function``, which builds
its predicate with ``new Function`` inside the page: the policy (no ``'unsafe-eval'``) refuses
that. ``page.evaluate`` runs through the DevTools protocol, outside the page's policy.

``chromium_context(request, monkeypatch)`` opens Debian's Chromium headless and yields a browser
context; when the test ends it saves a screenshot of every page left open under
``test-artifacts/screenshots/`` (what a failure looked like), then closes everything.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium_context(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    *,
    width: int = 1200,
    height: int = 900,
    locale: str = "en",
) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the test's own database calls
    # are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        try:
            yield context
        finally:
            folder = request.config.rootpath / "test-artifacts" / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            for number, page in enumerate(context.pages):
                name = f"{request.node.name}-{number}"
                try:
                    page.screenshot(path=str(folder / f"{name}.png"))
                except sync_api.Error as error:
                    # An artifact for whoever reads a failure, never the test's outcome: Chromium
                    # sometimes cannot capture a page between two documents (seen once in CI).
                    (folder / f"{name}.txt").write_text(f"no screenshot: {error}\n")
            context.close()
            browser.close()


_LISTEN = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__gatheringCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} in ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


def watch_csp(page: Any) -> list[str]:
    violations: list[str] = []

    def on_violation(text: str) -> None:  # Playwright needs a Python function here
        violations.append(text)

    page.expose_function("__gatheringCspViolation", on_violation)
    page.add_init_script(_LISTEN)

    def on_console(message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            violations.append(f"console: {text}")

    page.on("console", on_console)
    return violations


def wait_until(page: Any, expression: str, *, timeout: int = 30_000) -> Any:
    """The first truthy value of ``expression`` (a JavaScript expression or function, awaited
    when it returns a promise), evaluated again every 50 ms; AssertionError after ``timeout``
    milliseconds, as Playwright's ``timeout``."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} ms: {expression}")
        page.wait_for_timeout(50)
