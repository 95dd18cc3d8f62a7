"""Child processes for the reminder benchmarks: Celery workers and beats, their logs and their memory.

Each process is started in a session of its own and stopped by its own id (SIGTERM, then SIGKILL to
its process group, which holds only it and the pool children it forked).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

FORBIDDEN_REDIS_DATABASES = frozenset({0, 15})  # the default one, and the test suite's


def redis_database(url: str) -> int:
    """The database number of a redis:// URL (0 when the URL names none)."""
    path = urlsplit(url).path.strip("/")
    return int(path) if path else 0


def check_redis_url(url: str) -> str:
    if not url.startswith("redis://"):
        raise SystemExit(f"CELERY_BROKER_URL must be a redis:// URL for this benchmark, not {url!r}.")
    if redis_database(url) in FORBIDDEN_REDIS_DATABASES:
        raise SystemExit(f"Refusing Redis database {redis_database(url)}: use one of the bench's own (default 14).")
    return url


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB, from /proc."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


@dataclass
class Child:
    """A started process whose output is read line by line, each line stamped with perf_counter."""

    name: str
    process: subprocess.Popen[bytes]
    started: float
    log_path: Path
    lines: list[tuple[float, str]] = field(default_factory=list)
    _reader: threading.Thread | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None  # noqa: S101 - started with stdout=PIPE
        with self.log_path.open("w", encoding="utf-8") as log:
            for raw in self.process.stdout:
                stamp = time.perf_counter()
                line = raw.decode("utf-8", "replace").rstrip()
                log.write(f"{stamp - self.started:9.3f} {line}\n")
                log.flush()
                with self._changed:
                    self.lines.append((stamp, line))
                    self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> float:
        """The perf_counter stamp of the first output line containing `text`; SystemExit on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for stamp, line in self.lines:
                    if text in line:
                        return stamp
                if self.process.poll() is not None:
                    raise SystemExit(f"{self.name} exited ({self.process.returncode}); see {self.log_path}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SystemExit(
                        f"{self.name}: no {text!r} in its output after {timeout:.0f} s; see {self.log_path}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL to the child's own process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)


def start(name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path) -> Child:
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own commands, no shell
        list(command),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    child = Child(name=name, process=process, started=started, log_path=log_path)
    child._reader = threading.Thread(target=child._read, name=f"{name}-output", daemon=True)
    child._reader.start()
    return child
