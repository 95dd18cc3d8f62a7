"""The fault benchmarks' own services: a Redis on 6390 and a PostgreSQL cluster "faults" on 5440.

Other engineers and CI use the machine's PostgreSQL (5432) and Redis (6379) at the same time, so the
faults never touch those: they stop and start only these two, which this module creates when they
are missing (idempotently) and leaves running at the end, so a rerun starts at once.

    .venv/bin/python bench/faults/infra.py            # set up (if missing) and start both
    .venv/bin/python bench/faults/infra.py --stop     # stop both (the cluster stays on disk)

Needs root on Debian with postgresql-15 (pg_createcluster, pg_ctlcluster) and redis-server.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench.shared import say

REDIS_PORT = 6390
REDIS_PIDFILE = Path("/tmp/tacro-faults-redis-6390.pid")  # noqa: S108 - a fixed, known name for our instance
PG_CLUSTER = "faults"
PG_PORT = 5440
DATABASE_NAME = "tacro_faults"
DATABASE_URL = f"postgres://postgres@127.0.0.1:{PG_PORT}/{DATABASE_NAME}"
BROKER_URL = f"redis://127.0.0.1:{REDIS_PORT}/1"
SHARED_PORTS = frozenset({5432, 6379})  # never ours to stop
HBA_LINE = "host    all             all             127.0.0.1/32            trust"


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), check=check, capture_output=True, text=True)  # noqa: S603


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate: object, timeout: float, what: str) -> float:
    """Poll `predicate` every 0.05 s until true; the seconds it took. SystemExit on timeout."""
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise SystemExit(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


# --- Redis -----------------------------------------------------------------------------------------


def redis_ping() -> bool:
    result = run("redis-cli", "-p", str(REDIS_PORT), "ping", check=False)
    return result.returncode == 0 and result.stdout.strip() == "PONG"


def redis_start() -> None:
    """Our Redis: no persistence at all, so a stop loses every queued and unacknowledged message."""
    if redis_ping():
        return
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is missing: apt-get install redis-server")
    run(
        "redis-server",
        "--port",
        str(REDIS_PORT),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "yes",
        "--pidfile",
        str(REDIS_PIDFILE),
        "--dir",
        "/tmp",  # noqa: S108 - nothing is ever written there (--save "", no AOF)
    )
    wait_for(redis_ping, 10, f"Redis on {REDIS_PORT}")


def redis_stop() -> None:
    """SHUTDOWN NOSAVE on our instance only (by its port; never 6379)."""
    assert REDIS_PORT not in SHARED_PORTS  # noqa: S101
    if redis_ping():
        run("redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave", check=False)
    wait_for(lambda: not port_open(REDIS_PORT), 10, f"Redis on {REDIS_PORT} to stop")


# --- PostgreSQL ------------------------------------------------------------------------------------


def pg_version() -> str:
    versions = sorted((path.name for path in Path("/etc/postgresql").glob("*") if path.name.isdigit()), key=int)
    if not versions:
        raise SystemExit("No PostgreSQL under /etc/postgresql: apt-get install postgresql-15")
    return versions[-1]


def pg_config_dir() -> Path:
    return Path("/etc/postgresql") / pg_version() / PG_CLUSTER


def pg_cluster_status() -> str | None:
    """'online', 'down', or None when the cluster does not exist."""
    for line in run("pg_lsclusters", "--no-header", check=False).stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == pg_version() and fields[1] == PG_CLUSTER:
            if fields[2] != str(PG_PORT):
                raise SystemExit(f"Cluster {PG_CLUSTER} exists on port {fields[2]}, not {PG_PORT}")
            return fields[3]
    return None


def pg_ready() -> bool:
    return run("pg_isready", "-h", "127.0.0.1", "-p", str(PG_PORT), "-q", check=False).returncode == 0


def pg_ctl(action: str, *options: str) -> None:
    run("pg_ctlcluster", "--skip-systemctl-redirect", *options, pg_version(), PG_CLUSTER, action)


def pg_setup() -> None:
    """Create the cluster if missing, trust 127.0.0.1 over TCP, start it, create the database."""
    if pg_cluster_status() is None:
        say(f"Creating PostgreSQL cluster {pg_version()}/{PG_CLUSTER} on port {PG_PORT} ...")
        run("pg_createcluster", pg_version(), PG_CLUSTER, "--port", str(PG_PORT))
    hba = pg_config_dir() / "pg_hba.conf"
    text = hba.read_text()
    if not re.search(r"^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust\s*$", text, re.MULTILINE):
        # First match wins in pg_hba.conf: the trust line goes before the packaged scram lines.
        hba.write_text(f"# tacro-topical bench/faults: trust local TCP\n{HBA_LINE}\n{text}")
        if pg_cluster_status() == "online":
            pg_ctl("reload")
    pg_start()
    exists = run(
        "psql", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "-tAc",
        f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'",  # noqa: S608 - a constant
    ).stdout.strip()  # fmt: skip
    if exists != "1":
        run("createdb", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", DATABASE_NAME)


def pg_start() -> None:
    if pg_cluster_status() != "online":
        pg_ctl("start")
    wait_for(pg_ready, 60, f"PostgreSQL on {PG_PORT}")


def pg_stop() -> None:
    """Fast shutdown of our cluster only: open transactions are rolled back, clients disconnected."""
    assert PG_PORT not in SHARED_PORTS  # noqa: S101
    if pg_cluster_status() == "online":
        pg_ctl("stop", "--mode", "fast")
    wait_for(lambda: not port_open(PG_PORT), 60, f"PostgreSQL on {PG_PORT} to stop")


def setup() -> None:
    redis_start()
    pg_setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stop", action="store_true", help="stop our Redis and our cluster")
    args = parser.parse_args(argv)
    if args.stop:
        redis_stop()
        pg_stop()
        say(f"Stopped Redis {REDIS_PORT} and cluster {pg_version()}/{PG_CLUSTER}")
        return 0
    setup()
    say(
        f"Up: Redis 127.0.0.1:{REDIS_PORT}, PostgreSQL {pg_version()}/{PG_CLUSTER} 127.0.0.1:{PG_PORT} ({DATABASE_URL})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
