"""Sending Celery tasks from a request: a kept broker connection, one try, never holding the request up.

Workers and beat keep their own connections, with their retries; this is only for web requests.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Celery, Task
from kombu.connection import ConnectionPool
from kombu.exceptions import LimitExceeded
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)


# This process's connections for sending from requests, reused from one request to the next: a
# connection made per send cost about 7 ms of CPU per log (redis-py's handshake and client set-up,
# kombu's queue declaration; bench/api_load/cpu_per_request.py). Keyed by process id, so a forked
# process never writes to its parent's socket, and by broker URL and options, as tests change them.
_request_connections: dict[tuple[int, str, str], ConnectionPool] = {}
_request_connections_lock = threading.Lock()
REQUEST_CONNECTIONS = 10  # when broker_pool_limit is 0 or None: as many requests at once in one process
# A request never waits on the broker for long: it tries once (max_retries 0: retry=False below stops
# only Celery's publish retries, and kombu would still spend ~6 s reconnecting, RELIABILITY.md fault
# 2), and a socket that stops answering (a hung Redis, a dropped idle connection) times out.
REQUEST_BROKER_OPTIONS = {
    "max_retries": 0,
    "socket_timeout": 1.0,
    "socket_connect_timeout": 1.0,
    "socket_keepalive": True,
}


def _connections_for_requests(app: Celery) -> ConnectionPool:
    key = (os.getpid(), str(app.conf.broker_url), repr(sorted(app.conf.broker_transport_options.items())))
    with _request_connections_lock:
        if key not in _request_connections:
            # Workers and beat keep their own connections, with their retries.
            connection = app.connection_for_write(transport_options=REQUEST_BROKER_OPTIONS)
            # kombu keeps connections only in a pool with a limit; a request waits for a free one.
            _request_connections[key] = connection.Pool(limit=app.conf.broker_pool_limit or REQUEST_CONNECTIONS)
        return _request_connections[key]


def enqueue(task: Task, *args: Any) -> bool:
    """Send a task from a request without holding it up; False when the broker is down.

    The request's own work is committed by then, and what the task derives (schedules, alerts, the
    list summary) is redone by the periodic jobs: a patient's log must never fail for want of Redis.
    """
    pool = _connections_for_requests(task.app)
    for fresh_try in (False, True):
        reused = False
        try:
            # On an error the pool closes the connection before taking it back (kombu's PooledConnection),
            # so the next request that gets it connects anew.
            with pool.acquire(block=True, timeout=1) as connection:
                reused = connection.connected
                task.apply_async(args, retry=False, connection=connection)
            return True
        except LimitExceeded:
            logger.warning("no broker connection free, %s not sent; the periodic jobs catch up", task.name)
            return False
        except BrokerUnavailable as error:
            if reused and not fresh_try:
                continue  # its socket may have died with a Redis restart: once more, on a new connection
            logger.warning("broker unavailable, %s not sent (%s); the periodic jobs catch up", task.name, error)
            return False
    return False  # not reached: the second try returns
