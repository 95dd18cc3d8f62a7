"""Real Celery workers for the tests that need one, and waiting for what they do."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from celery.contrib.testing.worker import start_worker

from tacro_topical.celery import app

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, seconds: float = 30.0, what: str | None = None) -> T:
    """Poll until `condition()` is truthy and return its value; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not true within {seconds} s: {what or condition.__doc__ or condition}")


@contextmanager
def real_worker(broker_url: str, transport_options: dict[str, object]) -> Iterator[None]:
    """Point the app at a broker and run a real worker in a thread for the test."""
    previous = (app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager)
    app.conf.update(broker_url=broker_url, broker_transport_options=transport_options, task_always_eager=False)
    # The app caches its broker connections; drop the memory:// ones other tests made.
    app._pool = None
    app.amqp._producer_pool = None
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.update(broker_url=previous[0], broker_transport_options=previous[1], task_always_eager=previous[2])
        app._pool = None
        app.amqp._producer_pool = None
