"""Debian's Chromium driven by Playwright (NOTES "Browsers"): never Playwright's own download.
`scripts/test` installs `chromium` and `fonts-noto-cjk` when missing, so these tests never
skip; without them they fail saying what to install."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser
from playwright.async_api import async_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@asynccontextmanager
async def chromium(*extra_args: str) -> AsyncIterator[Browser]:
    """`extra_args` e.g. `--host-resolver-rules=MAP meet.example.test 127.0.0.1`."""
    path = shutil.which("chromium")
    assert path, "install Debian's chromium (scripts/test does: apt-get install chromium)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=[*ARGS, *extra_args])
        try:
            yield browser
        finally:
            await browser.close()
