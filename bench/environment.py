"""Bootstrap for the benchmarks: production-like settings, the bench database, Django and migrations.

Nothing here imports a model, so it can run before `django.setup()`.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tacro_bench"
# The project's own databases (development and tests): a benchmark never writes to, let alone drops, them.
PROTECTED_DATABASES = frozenset({"tacro_topical", "test_tacro_topical"})
BENCH_SECRET_KEY = "tacro-bench-only-key-not-used-anywhere-else-0123456789abcdefghijklmnop"  # noqa: S105
# Production refuses a JWT key equal to SECRET_KEY (tacro_topical/settings.py), so the bench has its own.
BENCH_JWT_SIGNING_KEY = "tacro-bench-only-jwt-key-not-used-anywhere-else-9876543210zyxwvutsrqpo"
# The benchmarks send many sync batches a minute from one account; the per-user item limit would measure 429s.
BENCH_SYNC_ITEMS_RATE = "100000000/minute"
TEST_CLIENT_HOST = "testserver"


def configure_environment() -> None:
    """Production settings (DEBUG off, HTTPS hardening on) with bench keys and the test client's host.

    Anything already set in the environment wins, except DEBUG, which is always off here.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tacro_topical.settings")
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_ENV", "production")
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ.setdefault("JWT_SIGNING_KEY", BENCH_JWT_SIGNING_KEY)
    os.environ.setdefault("SITE_URL", f"https://{TEST_CLIENT_HOST}")
    os.environ.setdefault("THROTTLE_SYNC_ITEMS", BENCH_SYNC_ITEMS_RATE)
    os.environ["DEBUG"] = "false"
    hosts = [host for host in os.environ.get("ALLOWED_HOSTS", "").split(",") if host]
    if TEST_CLIENT_HOST not in hosts:
        hosts.append(TEST_CLIENT_HOST)
    os.environ["ALLOWED_HOSTS"] = ",".join(hosts)


def ensure_database(*, recreate: bool = False) -> str:
    """Create the configured PostgreSQL database if it is missing (or drop and create it); its name."""
    import psycopg
    from django.conf import settings
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit(f"The benchmarks run on PostgreSQL; DATABASE_URL names {database['ENGINE']}.")
    name = str(database["NAME"])
    if name in PROTECTED_DATABASES:
        raise SystemExit(f"Refusing to benchmark on {name!r}: use a database of its own, e.g. tacro_bench.")
    server = {
        "host": database.get("HOST"),
        "port": database.get("PORT"),
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
    }
    # The maintenance database of the same server: a database cannot be created from inside itself.
    conninfo = make_conninfo(dbname="postgres", **{key: str(value) for key, value in server.items() if value})
    with psycopg.connect(conninfo, autocommit=True) as maintenance:
        exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and recreate:
            maintenance.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if not exists or recreate:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def prepare(*, recreate: bool = False) -> str:
    """Environment, database, Django and migrations, in that order; the database's name."""
    configure_environment()
    # Production settings serve collected static files; the API benchmarks need none collected.
    warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
    import django
    from django.core.management import call_command

    # Reading settings.DATABASES configures settings but touches no database.
    name = ensure_database(recreate=recreate)
    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    return name


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    ram_gib: float
    python: str
    django: str
    postgresql: str
    kernel: str
    load: tuple[float, float, float]

    def markdown(self) -> str:
        load = ", ".join(f"{value:.2f}" for value in self.load)
        return "\n".join(
            [
                f"- CPU: {self.cpu_model}, {self.cores} cores (os.cpu_count)",
                f"- RAM: {self.ram_gib:.1f} GiB",
                f"- Python {self.python}, Django {self.django}",
                f"- PostgreSQL {self.postgresql}",
                f"- Linux {self.kernel}; load average at the end {load} (1, 5, 15 min)",
            ]
        )


def _proc_field(path: str, key: str) -> str:
    try:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return "unknown"


def machine() -> Machine:
    """What the figures were measured on; needs Django set up (it asks the server for its version)."""
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
    memory = _proc_field("/proc/meminfo", "MemTotal").split()
    return Machine(
        cpu_model=_proc_field("/proc/cpuinfo", "model name"),
        cores=os.cpu_count() or 0,
        ram_gib=int(memory[0]) / 1024**2 if memory and memory[0].isdigit() else 0.0,
        python=platform.python_version(),
        django=django.get_version(),
        postgresql=str(row[0]) if row else "unknown",
        kernel=platform.release(),
        load=os.getloadavg(),
    )


def conninfo() -> str:
    """A psycopg conninfo for Django's default database (settings must be configured)."""
    from django.conf import settings
    from psycopg.conninfo import make_conninfo

    database = settings.DATABASES["default"]
    parts = {
        "dbname": database.get("NAME"),
        "host": database.get("HOST"),
        "port": database.get("PORT"),
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
    }
    return make_conninfo(**{key: str(value) for key, value in parts.items() if value})


def code_state() -> str:
    """The commit measured, and which files of the application differ from it (the work tree is measured)."""
    import subprocess

    def git(*arguments: str) -> str:
        try:
            return subprocess.run(  # noqa: S603
                ["git", *arguments],  # noqa: S607
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [
        line[3:] for line in git("status", "--porcelain", "--", "tracking", "accounts", "tacro_topical").splitlines()
    ]
    return f"commit {commit}" + (f", with uncommitted changes to {', '.join(changed)}" if changed else "")
