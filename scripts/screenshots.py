"""Screenshots of the contact pages for the README, made by booking a meeting on the demo's
booking page in Chromium: `docs/screenshots/booking-en.png` and `booking-ja.png` (a day and a
slot chosen, the form showing), `confirmation.png` and `manage.png`.

It starts the README's demo (`slotgraph serve --demo`, what `./scripts/demo` runs) on a free
loopback port with its data in a temporary folder: the embedded PostgreSQL, or a fresh
database on `DATABASE_URL`'s server when that is set (dropped at the end). It opens the
booking page URL the demo prints, books by clicking as a contact would (day, slot, name and
email, the button), follows the confirmation's manage link, then checks with the demo
user's token that the API holds the booking. With `--page-url` (and `--token`) it uses a
demo that is already running instead.

Every run shows today's dates, so the pictures change; each must stay under 200 KB (the
run fails otherwise). Run from the repository root: `./scripts/screenshots` (installs the
dev tools into .venv first) or `.venv/bin/python scripts/screenshots.py`. Chromium is
Debian's, as in the browser tests (docs/environment.md "Browsers").
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as `python scripts/screenshots.py`: the root, not scripts/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from collections.abc import Iterator

import httpx
from playwright.async_api import Browser
from playwright.async_api import Page

from bench.graphql_overhead import fresh_database
from bench.serve import SLOTGRAPH
from bench.serve import free_port
from bench.serve import wait_ready
from tests.helpers.browser import chromium

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
MAX_BYTES = 200 * 1024
WIDTH = 720  # a laptop window's half, wide enough for the month and the slots side by side
PRINTED_PAGE = re.compile(r"^Booking page \(.*\): (\S+)$", re.M)
PRINTED_TOKEN = re.compile(r"^Demo user token \(.*\): (\S+)$", re.M)
BOOKINGS = (
    "{ viewer { bookings(first: 20) { edges { node { startsAt status contact { name } } } } } }"
)
CONTACT = ("Cleo Contact", "cleo@example.com")


@contextlib.contextmanager
def demo(database_url: str | None, log_dir: Path) -> Iterator[tuple[str, str]]:
    """`slotgraph serve --demo` on a free port: (its booking page URL, the demo token)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"SLOTGRAPH_DATA_DIR": str(log_dir / "data"), "SLOTGRAPH_LOG_LEVEL": "WARNING"}
    if database_url:
        env["DATABASE_URL"] = database_url
    log = log_dir / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  # our own command line
            [SLOTGRAPH, "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}", log, seconds=120)
        printed = log.read_text()
        page, token = PRINTED_PAGE.search(printed), PRINTED_TOKEN.search(printed)
        if page is None or token is None:
            raise RuntimeError(f"the demo printed no booking page URL or token:\n{printed}")
        yield page.group(1), token.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str | None]:
    """A fresh database on `DATABASE_URL`'s server, or None for the embedded PostgreSQL."""
    server = os.environ.get("DATABASE_URL")
    if not server:
        yield None
        return
    async with fresh_database(server) as url:
        yield url


async def choose_slot(page: Page) -> None:
    """The first day with free times, then its first slot: the form shows."""
    await page.locator("td.open a").first.click()
    await page.wait_for_url(re.compile(r"[?&]date="))
    await page.locator("li[data-start] a").first.click()
    await page.wait_for_url(re.compile(r"[?&]start="))
    await page.locator("#email").wait_for()


async def shoot(page: Page, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    await page.screenshot(path=path, full_page=True)
    return path


async def book_and_shoot(browser: Browser, page_url: str, out: Path) -> list[Path]:
    shots = []
    japanese = await browser.new_context(
        locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": WIDTH, "height": 800}
    )
    page = await japanese.new_page()
    await page.goto(page_url)
    await page.wait_for_url(re.compile(r"tz=Asia%2FTokyo"))  # the browser's zone (C19)
    await choose_slot(page)
    shots.append(await shoot(page, out, "booking-ja"))
    await japanese.close()

    english = await browser.new_context(
        locale="en-US", timezone_id="Europe/London", viewport={"width": WIDTH, "height": 800}
    )
    page = await english.new_page()
    await page.goto(page_url)
    await choose_slot(page)
    await page.get_by_label("Name").fill(CONTACT[0])
    await page.get_by_label("Email").fill(CONTACT[1])
    shots.append(await shoot(page, out, "booking-en"))
    await page.locator("form[method=post] button[type=submit]").click()
    await page.get_by_role("heading", name=re.compile("Request sent|You are booked")).wait_for()
    shots.append(await shoot(page, out, "confirmation"))
    await page.get_by_role("link", name="Reschedule or cancel this meeting").click()
    await page.get_by_role("heading", name="Move to another time").wait_for()
    shots.append(await shoot(page, out, "manage"))
    await english.close()
    return shots


def booked_in_api(page_url: str, token: str) -> str:
    """The contact's booking as the host's API lists it (fails if it is not there)."""
    graphql = re.sub(r"/meetings/.*$", "/graphql", page_url)
    answer = httpx.post(
        graphql,
        json={"query": BOOKINGS},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        trust_env=False,
    ).json()
    for edge in answer["data"]["viewer"]["bookings"]["edges"]:
        node = edge["node"]
        if (node["contact"] or {}).get("name") == CONTACT[0]:
            return f"{node['status']} at {node['startsAt']}"
    raise RuntimeError(f"no booking of {CONTACT[0]} in the API: {answer}")


async def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="slotgraph-screens-") as tmp:
        async with database() as url, contextlib.AsyncExitStack() as stack:
            page_url, token = args.page_url, args.token
            if page_url is None:
                page_url, token = stack.enter_context(demo(url, Path(tmp)))
            print(f"booking page: {page_url}")
            async with chromium() as browser:
                shots = await book_and_shoot(browser, page_url, out)
            if token:
                print(
                    f"booked through the page, the API lists it: {booked_in_api(page_url, token)}"
                )
    too_big = []
    for path in shots:
        size = path.stat().st_size
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {size:,} bytes")
        if size > MAX_BYTES:
            too_big.append(path.name)
    print(f"done in {time.monotonic() - began:.0f} s")
    if too_big:
        print(f"over {MAX_BYTES // 1024} KB: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help="folder (docs/screenshots)")
    parser.add_argument("--page-url", help="a running demo's booking page, instead of a new demo")
    parser.add_argument("--token", help="with --page-url: the demo token, to check the API")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
