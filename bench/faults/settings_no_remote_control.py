"""The project's settings with Celery's remote control off: no broadcast (pub/sub) connection in the worker.

Used by `repro_worker_exit.py --no-remote-control` to check a mitigation of finding 1 in RELIABILITY.md:
every worker exit seen there started on that connection (kombu's `_receive`).
"""

from tacro_topical.settings import *  # noqa: F403

CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
