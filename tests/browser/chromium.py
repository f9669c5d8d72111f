"""Debian's Chromium driven by Playwright, headless, for browser tests.

Playwright's own browsers are never downloaded (`playwright install` is not used): the
browser is /usr/bin/chromium (`make browser` installs it), started without network
features, on a fresh profile directory that Playwright creates for each launch.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 820, "height": 1180}  # a 10.9" tablet held upright


def chromium_path() -> str:
    found = os.environ.get("CRADLE_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "Debian's chromium is not installed: run `make browser` "
            "(apt-get install chromium chromium-driver)",
            pytrace=False,
        )
    return found


@contextmanager
def launched() -> Iterator:
    """A headless Chromium; each `new_context()` of it starts with no cookies or storage."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Saved to test-artifacts/ (gitignored) for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
