"""For real-browser tests (Playwright) on pages under the site's Content-Security-Policy.

``watch_csp(page)`` starts listening before the first navigation; every violation of the page
and of the documents it navigates to afterwards (the ``securitypolicyviolation`` events and
Chromium's "Refused to ..." console errors) lands in the returned list.

``wait_until(page, expression)`` replaces Playwright's ``page.wait_for_function``, which builds
its predicate with ``new Function`` inside the page: the policy (no ``'unsafe-eval'``) refuses
that. ``page.evaluate`` runs through the DevTools protocol, outside the page's policy.
"""

from __future__ import annotations

import time
from typing import Any

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
