"""Refresh the README screenshot: the demo's program in Persian, from the production server.

.venv/bin/python tools/screenshot.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _server import production_server  # noqa: E402


def main() -> None:
    with production_server(workers=1) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(server.base_url + "/fa/2027/program/")
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
        browser.close()


if __name__ == "__main__":
    main()
