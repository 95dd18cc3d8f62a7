"""Issue #6's data on PostgreSQL: 1,000 patients with logins and an active regimen each, and their JWTs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tacro_bench_api .venv/bin/python bench/api_load/setup_data.py

Creates the database if it is missing and migrates it (bench/environment.py), with the bench's settings
(bench/api_load/settings.py: production ones plus the floor route and long-lived access tokens). Loads
the patients only when they are not there yet (or with --force); refuses a database that holds users
of its own. Every time, it mints a fresh JWT access token for each patient's login
(`RefreshToken.for_user(user).access_token`, valid for settings.ACCESS_TOKEN_HOURS) and writes them,
with what the load generator needs to build a request, to the patients file (common.patients_file():
$TMPDIR/tacro-bench-api-load/patients.json, or BENCH_API_PATIENTS_FILE), which the locustfile reads.

The data set, from one seeded generator:
- 1,000 patients, each with a patient login (no usable password: the bench signs in with the tokens),
  in the 30 IANA zones of issue #4's data set; two thirds atopic dermatitis, one third a cutaneous lupus;
  adults (20-74 years).
- One ongoing twice-daily treatment regimen each ("08:00", "20:00"), started 30-120 days ago, on one to
  two body areas; two thirds have a tube size. So every application the bench posts without a regimen
  finds exactly one active regimen.
- No logs: run.py empties `tracking_application` before every run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench import environment, shared
from bench.api_load import common  # the project root must be on the path first
from bench.shared import say

# Bumped whenever the data set changes, so an old one is rebuilt rather than measured.
SETUP_VERSION = "1"
SEED = 6  # issue #6
PATIENTS = 1_000
META_TABLE = "bench_api_meta"
AREA_SETS = (
    ["face", "neck"],
    ["arm_left", "arm_right"],
    ["hand_left", "hand_right"],
    ["leg_left", "leg_right"],
    ["eyelids"],
    ["chest"],
)
PRODUCTS = (("tacrolimus", "0.1"), ("tacrolimus", "0.03"), ("pimecrolimus", "1"))


def email(number: int) -> str:
    return f"patient{number:04d}@{common.EMAIL_DOMAIN}"


def is_ready(meta: dict[str, str]) -> bool:
    from accounts.models import Patient
    from tracking.models import Regimen

    return (
        meta.get("version") == SETUP_VERSION
        and Patient.objects.filter(user__email__endswith=f"@{common.EMAIL_DOMAIN}").count() == PATIENTS
        and Regimen.objects.count() == PATIENTS
    )


def load() -> float:
    """Empty the bench's tables and create the patients, their logins and regimens; the seconds it took."""
    from django.db import connection, transaction

    from accounts.models import Condition
    from bench.reminders.setup_data import ZONES  # the same 30 zones as issue #4's data set
    from tracking.models import Phase, Regimen
    from tracking.models.regimens import ALL_WEEKDAYS

    start = time.perf_counter()
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    today = datetime.datetime.now(tz=datetime.UTC).date()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {META_TABLE}")
        # CASCADE: every table that refers to users or patients (regimens, logs, tokens, ...) goes too.
        cursor.execute("TRUNCATE accounts_user, accounts_patient RESTART IDENTITY CASCADE")
    with transaction.atomic():
        users, patients = shared.create_patient_logins(
            [
                shared.PatientSeed(
                    id=shared.seeded_uuid(rng),
                    email=email(number),
                    first_name="Bench",
                    last_name=f"Patient {number}",
                    birth_date=today.replace(year=today.year - rng.randrange(20, 75), day=1),
                    timezone=ZONES[number % len(ZONES)],
                    condition=Condition.ATOPIC_DERMATITIS if number % 3 else shared.LUPUS[number % len(shared.LUPUS)],
                )
                for number in range(1, PATIENTS + 1)
            ]
        )
        regimens = []
        for number, (user, patient) in enumerate(zip(users, patients, strict=True), start=1):
            drug, strength = rng.choice(PRODUCTS)
            regimens.append(
                Regimen(
                    id=shared.seeded_uuid(rng),
                    patient=patient,
                    drug=drug,
                    strength=strength,
                    phase=Phase.TREATMENT,
                    body_areas=rng.choice(AREA_SETS),
                    times=["08:00", "20:00"],
                    weekdays=list(ALL_WEEKDAYS),
                    start_date=today - datetime.timedelta(days=rng.randrange(30, 121)),
                    tube_grams=rng.choice((30, 60, 100)) if number % 3 else None,
                    created_by=user,
                )
            )
        Regimen.objects.bulk_create(regimens)
    # After the rows are committed: a load cut short leaves no meta table, so the next setup loads again.
    loaded_at = datetime.datetime.now(tz=datetime.UTC).isoformat()
    with psycopg.connect(environment.conninfo(), autocommit=True) as meta_connection:
        shared.write_meta(meta_connection, META_TABLE, {"version": SETUP_VERSION, "loaded_at": loaded_at})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - start


def mint_tokens(path: Path) -> tuple[int, float]:
    """A fresh access token for every bench patient, written with their ids to `path`; count and seconds."""
    from django.conf import settings
    from django.db import transaction
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import Patient
    from tracking.models import Regimen

    start = time.perf_counter()
    patients = list(
        Patient.objects.filter(user__email__endswith=f"@{common.EMAIL_DOMAIN}").select_related("user").order_by("user")
    )
    regimens = {regimen.patient_id: regimen for regimen in Regimen.objects.filter(end_date__isnull=True)}
    minted_at = datetime.datetime.now(tz=datetime.UTC)
    lifetime: datetime.timedelta = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    rows: list[dict[str, Any]] = []
    with transaction.atomic():
        # The refresh tokens of earlier setups (for_user records each one); nothing else of theirs is used.
        OutstandingToken.objects.filter(user__email__endswith=f"@{common.EMAIL_DOMAIN}").delete()
        for patient in patients:
            assert patient.user is not None  # noqa: S101 - selected by their login
            regimen = regimens[patient.pk]
            rows.append(
                {
                    "patient": str(patient.pk),
                    "user": patient.user.pk,
                    "regimen": str(regimen.pk),
                    "timezone": patient.timezone,
                    "body_areas": regimen.body_areas,
                    "token": str(RefreshToken.for_user(patient.user).access_token),
                }
            )
    document = {
        "minted_at": minted_at.isoformat(),
        "expires_at": (minted_at + lifetime).isoformat(),
        "database": str(settings.DATABASES["default"]["NAME"]),
        "patients": rows,
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        json.dump(document, out)
    partial.replace(path)
    return len(rows), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="create the patients again even if they are there")
    parser.add_argument("--recreate", action="store_true", help="drop and create the database first")
    args = parser.parse_args(argv)
    database = common.configure(recreate=args.recreate)
    with psycopg.connect(environment.conninfo(), autocommit=True) as connection:
        shared.refuse_foreign_users(connection, common.EMAIL_DOMAIN, "tacro_bench_api")
        meta = shared.read_meta(connection, META_TABLE)
    if args.force or not is_ready(meta):
        say(f"{database}: {PATIENTS:,} patients, logins and regimens created in {load():.1f} s")
    else:
        say(f"{database}: {PATIENTS:,} patients already set up")
    path = common.patients_file()
    count, seconds = mint_tokens(path)
    say(f"{count:,} access tokens minted in {seconds:.1f} s, written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
