"""The app served by uvicorn on a loopback port in this process (its own thread and event
loop): real HTTP and websockets, while the test can still read the app's log records."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from tests.helpers.serving import free_port


@contextmanager
def serve_in_thread(app: Starlette) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:<port>`) of `app`, started with its lifespan."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
