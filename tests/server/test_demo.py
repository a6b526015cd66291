"""The README's first command: `slotgraph serve --demo` prints the demo's booking page URL,
and a contact books on that page with plain HTML forms (the README's tour; the browser
version is `scripts/screenshots`)."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from slotgraph.models import Booking
from slotgraph.models.enums import BookingStatus
from tests.helpers.serving import SLOTGRAPH, free_port, wait_ready

PRINTED = re.compile(
    r"^Booking page \(.*\): (http://127\.0\.0\.1:\d+/meetings/dana-demo/\S+)$", re.M
)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
OPEN_DAY = r'<td class="open[^"]*"><a href="([^"]+)"'
SLOT = r'<li data-start="[^"]+"><a href="([^"]+)"'


@pytest.fixture
def demo(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Iterator[str]:
    """`slotgraph serve --demo` on the test database (migrated by `engine`): what it printed.
    It must stop cleanly."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTGRAPH_DATA_DIR": str(tmp_path),
        "SLOTGRAPH_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SLOTGRAPH, "serve", "--demo", "--no-worker", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        wait_ready(process, f"http://127.0.0.1:{port}", log)
        yield log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, log.read_text()[-2000:]


async def test_the_printed_booking_page_books_a_meeting(
    demo: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    printed = PRINTED.search(demo)
    assert printed, demo
    async with httpx.AsyncClient(trust_env=False, follow_redirects=True) as http:
        month = await http.get(printed.group(1))
        assert month.status_code == 200
        assert "Intro call" in month.text
        day = await http.get(month.url.join(first_href(month.text, OPEN_DAY)))
        form = await http.get(day.url.join(first_href(day.text, SLOT)))
        post = form.text[form.text.index('<form method="post"') :].split("</form>")[0]
        fields = {name: html.unescape(value) for name, value in HIDDEN.findall(post)}
        done = await http.post(
            form.url, data={**fields, "name": "Cleo", "email": "cleo@example.com"}
        )

    assert done.status_code == 200, done.text
    assert "Request sent" in done.text  # the demo's pages are offline (S7)
    async with sessionmaker() as session:
        statuses = (await session.execute(select(Booking.status))).scalars().all()
    assert statuses == [BookingStatus.REQUESTED]


def first_href(page: str, pattern: str) -> str:
    found = re.search(pattern, page)
    assert found, page
    return html.unescape(found.group(1))
