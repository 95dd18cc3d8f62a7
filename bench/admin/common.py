"""What setup_data.py and run.py share: the database, the bench's users, and Django with production settings.

Nothing here imports a model at import time, so it can run before `django.setup()`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tacro_bench_admin"
EMAIL_DOMAIN = "tacro-bench-admin.invalid"
DERMATOLOGIST_EMAIL = f"dermatologist@{EMAIL_DOMAIN}"  # 2,000 patients on the care team
OTHER_DERMATOLOGIST_EMAIL = f"dermatologist2@{EMAIL_DOMAIN}"  # the other 8,000
STAFF_EMAIL = f"staff@{EMAIL_DOMAIN}"  # clinic staff: every patient
META_TABLE = "bench_admin_meta"
# collectstatic's target: production serves the admin's CSS and JS by their manifest names, so the
# pages need a manifest. Outside the repository, so the work tree stays clean.
DEFAULT_STATIC_ROOT = Path(tempfile.gettempdir()) / "tacro-bench-admin-static"


def configure(*, recreate: bool = False) -> str:
    """Production settings on the bench database (created if missing, migrated); the database's name."""
    from bench import shared

    shared.project_root_first(HERE)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("STATIC_ROOT", str(DEFAULT_STATIC_ROOT))
    from bench import environment

    return environment.prepare(recreate=recreate)


def collect_static() -> float:
    """`collectstatic` into STATIC_ROOT (only changed files are copied again); the seconds it took."""
    import time

    from django.core.management import call_command

    start = time.perf_counter()
    call_command("collectstatic", interactive=False, verbosity=0)
    return time.perf_counter() - start
