"""Issue #5's data on PostgreSQL: 10,000 patients, 2,000,000 logs over 16 weeks, and their list summaries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tacro_bench_admin .venv/bin/python bench/admin/setup_data.py

Creates the database if it is missing and migrates it, then (only when the data set is not there yet,
is from an older SETUP_VERSION, is more than MAX_AGE old, or with --force) loads it with COPY and
fills every patient's `PatientSummary` with `tracking.review.services.summary_refresh`, as the hourly job does.
Refuses a database that holds users of its own.

The data set, all built from one seeded random generator (the times follow the moment of the load,
"the anchor", so the last 14 days the list shows are full):
- Users: a dermatologist (DERMATOLOGIST_EMAIL, is_staff) whose care team holds 2,000 patients, a
  second one with the other 8,000, a clinic staff user; patient logins and caregivers (below).
- 10,000 patients in 30 IANA zones (333 or 334 each). Two thirds atopic dermatitis, one third a
  cutaneous lupus. A quarter are children (2-15 years; 0.03% tacrolimus or pimecrolimus); 70% of the
  adults have a login, 80% of the children a caregiver. 3% moved zone 2-10 weeks ago (one
  PatientTimezoneChange each).
- Regimens, "08:00" and "20:00": 65% one ongoing treatment regimen, 10% one maintenance regimen
  (two weekdays), 25% a treatment regimen then a step-down to maintenance 6-10 weeks in. Started
  15-17 weeks before the anchor; 60% have a tube size.
- 2,000,000 logs over the last 16 weeks (LOG_COUNTS): about 1,400,000 applications (each dose logged
  with the patient's adherence, 5-100%; 55% with an amount), 100,000 weekly POEM entries (eczema
  patients), 50,000 skin checks, and the symptom entries that make up the rest (about 450,000, each
  with at least one of burning, itch, flare severity; 15% linked to the application before them).
  0.3% of the logs are deleted (kept with deleted_at), about 2.4% have a note.
- Alerts: 10% of the patients have 1 or 2 open (distinct kinds, as the unique constraints want),
  15% one resolved alert.
- Three patients of the dermatologist's for the review page (their ids in the meta table): "heavy"
  (every dose logged, 5 symptom entries a day, POEM weekly, a skin check every 3 days), "typical"
  (a step-down, two open alerts) and "light" (a child with lupus, a caregiver, a zone change, low
  adherence).
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import json
import multiprocessing
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench import environment, shared
from bench.admin import common  # the project root must be on the path first
from bench.reminders.setup_data import ZONES  # the same 30 zones as issue #4's data set
from bench.shared import say, seeded_uuid

# Bumped whenever the data set changes, so an old one is rebuilt rather than measured.
SETUP_VERSION = "3"
SEED = 5  # issue #5
PATIENTS = 10_000
TEAM = 2_000  # on the care team of the dermatologist the bench signs in as
WEEKS = 16
DAYS = WEEKS * 7
LOGS = 2_000_000
LOG_COUNTS = {"applications": 1_400_000, "poem": 100_000, "skin_checks": 50_000}  # symptoms: the rest
MAX_AGE = datetime.timedelta(days=7)  # older, and the last 14 days hold hardly any logs: rebuilt
SUMMARY_PROCESSES = 2
SUMMARY_SERIAL_SAMPLE = 500
UTC = datetime.UTC
DOSE_TIMES = (datetime.time(8, 0), datetime.time(20, 0))
MAINTENANCE_WEEKDAYS = ((1, 4), (2, 5), (3, 6), (1, 5))
AREA_CHOICES = (
    ("face", "neck"),
    ("eyelids",),
    ("arm_left", "arm_right"),
    ("hand_left", "hand_right"),
    ("leg_left", "leg_right"),
    ("chest", "abdomen"),
    ("upper_back",),
    ("face",),
    ("neck", "chest"),
    ("foot_left", "foot_right"),
)
# (drug, strength), drawn with these weights: 0.1% tacrolimus is for 16 and over (tracking.rules).
ADULT_PRODUCTS = (("tacrolimus", "0.1"), ("tacrolimus", "0.1"), ("tacrolimus", "0.03"), ("pimecrolimus", "1"))
CHILD_PRODUCTS = (("tacrolimus", "0.03"), ("tacrolimus", "0.03"), ("pimecrolimus", "1"))
FIRST_NAMES = (
    "Amira", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kaya", "Liam",
    "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tariq", "Uma", "Viktor", "Wen", "Ximena",
    "Yusuf", "Zara", "Aiko", "Bruno", "Carmen", "Diego", "Emma", "Fatima", "Gabriel", "Hana", "Ivan",
    "Julia", "Kofi", "Leila", "Mateo", "Nadia",
)  # fmt: skip
LAST_NAMES = (
    "Abebe", "Achterberg", "Adeyemi", "Alvarez", "Andersson", "Arslan", "Bakker", "Banerjee", "Barros",
    "Becker", "Bianchi", "Bjork", "Bondarenko", "Brennan", "Castillo", "Chaudhry", "Chen", "Costa",
    "Dahl", "Dimitrov", "Dubois", "Duarte", "Eriksen", "Esposito", "Farouk", "Ferreira", "Fischer",
    "Fontaine", "Gallagher", "Garcia", "Ghosh", "Haddad", "Hansen", "Hashemi", "Herrera", "Horvat",
    "Ibrahim", "Ivanova", "Jansen", "Jaramillo", "Johansson", "Kaminski", "Kang", "Kaur", "Khoury",
    "Kowalski", "Kruger", "Laine", "Larsen", "Lindqvist", "Lopez", "Lund", "Mahlangu", "Marino",
    "Medina", "Mendes", "Moreau", "Morales", "Muller", "Nakamura", "Nascimento", "Nguyen", "Nielsen",
    "Novak", "Nowak", "Obi", "Okafor", "Olsen", "Ortiz", "Osei", "Ozturk", "Papadopoulos", "Park",
    "Pereira", "Petrov", "Popescu", "Quispe", "Rahman", "Ramos", "Reyes", "Ricci", "Rossi", "Rousseau",
    "Sabri", "Sato", "Schmidt", "Shapiro", "Silva", "Singh", "Sokolov", "Suzuki", "Svensson", "Takahashi",
    "Tan", "Tanaka", "Torres", "Tran", "Turner", "Uddin", "Van Dijk", "Vargas", "Vasquez", "Virtanen",
    "Wagner", "Walsh", "Wang", "Weber", "Williams", "Wojcik", "Xu", "Yamamoto", "Yilmaz", "Young",
    "Zapata", "Zhang", "Zielinski",
)  # fmt: skip
NOTES = ("Forgot until late.", "Stung a little.", "Used less on the face.", "Travelling this week.", "")
ALERT_TEXT = {
    "persistent_burning": (2, "Burning of 4/10 or more on 5 of the last 7 days."),
    "no_improvement": (3, "No improvement 6 weeks into treatment."),
    "worsening_flare": (3, "Flare severity up by 2 within 14 days."),
    "low_adherence": (1, "Logged under 50% of scheduled doses over the last 14 days."),
    "concerning_skin_check": (3, "A skin check was marked concerning."),
}
RESOLVED_KINDS = ("persistent_burning", "worsening_flare", "low_adherence")  # no episode key: may repeat


def fingerprint(log_id: uuid.UUID) -> str:
    return log_id.hex * 2  # any 64 characters: nothing here replays a sync


# --- Building the people and regimens ------------------------------------------------------------


@dataclass
class RegimenPlan:
    id: uuid.UUID
    phase: str
    start: datetime.date
    end: datetime.date | None
    weekdays: tuple[int, ...]
    areas: tuple[str, ...]
    drug: str
    strength: str
    tube: int | None
    previous: uuid.UUID | None = None

    def runs_on(self, date: datetime.date) -> bool:
        return self.start <= date and (self.end is None or date <= self.end) and date.isoweekday() in self.weekdays


@dataclass
class PatientPlan:
    index: int
    id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: datetime.date
    zone: str
    condition: str
    child: bool
    user_id: int | None
    caregiver_id: int | None
    clinician_id: int
    regimens: list[RegimenPlan]
    adherence: float  # chance that a due dose is logged
    symptom_weight: float
    severity: float  # 0-1: how bad the skin is at the start
    moved: tuple[str, datetime.datetime] | None = None  # (zone left, until)
    role: str = ""  # "heavy", "typical", "light" for the review pages
    applications: list[tuple[datetime.datetime, uuid.UUID]] = field(default_factory=list, repr=False)
    concerning_checks: list[uuid.UUID] = field(default_factory=list, repr=False)

    @property
    def creator(self) -> int | None:
        return self.user_id or self.caregiver_id

    @property
    def eczema(self) -> bool:
        return self.condition == "atopic_dermatitis"

    def zone_on(self, date: datetime.date) -> ZoneInfo:
        if self.moved and date < self.moved[1].date():
            return zone_named(self.moved[0])
        return zone_named(self.zone)

    def at(self, date: datetime.date, wall: datetime.time) -> datetime.datetime:
        return datetime.datetime.combine(date, wall, self.zone_on(date)).astimezone(UTC)

    def first_day(self, today: datetime.date) -> datetime.date:
        return max(min(regimen.start for regimen in self.regimens), today - datetime.timedelta(days=DAYS - 1))

    def progress(self, moment: datetime.datetime, anchor: datetime.datetime) -> float:
        """0 at the first regimen's start, 1 at the anchor: symptoms ease with treatment."""
        start = datetime.datetime.combine(min(regimen.start for regimen in self.regimens), datetime.time(), UTC)
        return min(1.0, max(0.0, (moment - start) / (anchor - start)))


_ZONES: dict[str, ZoneInfo] = {}


def zone_named(name: str) -> ZoneInfo:
    """Every zone kept alive: zoneinfo's own cache holds only the 8 most recently used."""
    if name not in _ZONES:
        _ZONES[name] = ZoneInfo(name)
    return _ZONES[name]


@dataclass
class People:
    anchor: datetime.datetime
    users: list[tuple[object, ...]]
    patients: list[PatientPlan]
    review: dict[str, PatientPlan]
    search_term: str


def build_people(anchor: datetime.datetime, rng: random.Random) -> People:
    created = anchor - datetime.timedelta(days=DAYS + 20)
    users = [
        shared.user_row(1, common.DERMATOLOGIST_EMAIL, "Dana", "Derm", "dermatologist", created, staff=True),
        shared.user_row(2, common.OTHER_DERMATOLOGIST_EMAIL, "Sam", "Skinner", "dermatologist", created, staff=True),
        shared.user_row(3, common.STAFF_EMAIL, "Clare", "Clinic", "clinic_staff", created, staff=True),
    ]
    patients: list[PatientPlan] = []
    for index in range(PATIENTS):
        zone = ZONES[index % len(ZONES)]
        today = anchor.astimezone(zone_named(zone)).date()
        child = rng.random() < 0.25
        condition = "atopic_dermatitis" if rng.random() < 2 / 3 else rng.choice(shared.LUPUS)
        age = rng.randint(2, 15) if child else rng.randint(16, 85)
        birth_date = today - datetime.timedelta(days=age * 365 + rng.randrange(365))
        first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        user_id = caregiver_id = None
        if not child and rng.random() < 0.7:
            user_id = len(users) + 1
            email = f"patient{index:05d}@{common.EMAIL_DOMAIN}"
            users.append(shared.user_row(user_id, email, first_name, last_name, "patient", created))
        elif child and rng.random() < 0.8:
            caregiver_id = len(users) + 1
            email = f"caregiver{index:05d}@{common.EMAIL_DOMAIN}"
            users.append(shared.user_row(caregiver_id, email, rng.choice(FIRST_NAMES), last_name, "caregiver", created))
        patient = PatientPlan(
            index=index,
            id=seeded_uuid(rng),
            first_name=first_name,
            last_name=last_name,
            birth_date=birth_date,
            zone=zone,
            condition=condition,
            child=child,
            user_id=user_id,
            caregiver_id=caregiver_id,
            clinician_id=1 if index < TEAM else 2,
            regimens=[],
            adherence=adherence_level(rng),
            symptom_weight=rng.lognormvariate(0, 0.8),
            severity=rng.random(),
        )
        if rng.random() < 0.03:
            patient.moved = (
                ZONES[(index + 7) % len(ZONES)],
                anchor - datetime.timedelta(days=rng.randint(14, 70), hours=rng.randrange(24)),
            )
        patient.regimens = build_regimens(patient, today, rng)
        patients.append(patient)

    # The review pages' patients, on the dermatologist's care team: the first two adults, the first
    # child with a caregiver.
    team = patients[:TEAM]
    heavy, typical = [patient for patient in team if not patient.child][:2]
    light = next(patient for patient in team if patient.child and patient.caregiver_id)
    heavy.role, typical.role, light.role = "heavy", "typical", "light"
    heavy.condition, heavy.adherence, heavy.moved, heavy.severity = "atopic_dermatitis", 1.0, None, 0.8
    typical.condition, typical.adherence, typical.moved = "atopic_dermatitis", 0.7, None
    light.condition, light.adherence = "cle_discoid", 0.35
    light.moved = (ZONES[(light.index + 7) % len(ZONES)], anchor - datetime.timedelta(days=30))
    for patient in (heavy, typical, light):
        today = anchor.astimezone(zone_named(patient.zone)).date()
        patient.birth_date = today - datetime.timedelta(days=(9 if patient.child else 41) * 365 + 100)
        patient.regimens = build_regimens(patient, today, rng, step_down=patient is typical)
    return People(
        anchor=anchor,
        users=users,
        patients=patients,
        review={patient.role: patient for patient in (heavy, typical, light)},
        search_term=typical.last_name,
    )


def adherence_level(rng: random.Random) -> float:
    draw = rng.random()
    if draw < 0.15:
        return rng.uniform(0.05, 0.5)
    if draw < 0.6:
        return rng.uniform(0.5, 0.85)
    return rng.uniform(0.85, 1.0)


def build_regimens(
    patient: PatientPlan, today: datetime.date, rng: random.Random, *, step_down: bool | None = None
) -> list[RegimenPlan]:
    """One regimen (65% treatment, 10% maintenance) or a treatment then its step-down to maintenance (25%)."""
    drug, strength = rng.choice(CHILD_PRODUCTS if patient.child else ADULT_PRODUCTS)
    areas = tuple(dict.fromkeys(area for _ in range(rng.randint(1, 2)) for area in rng.choice(AREA_CHOICES)))
    tube = rng.choice((30, 60, 100)) if rng.random() < 0.6 else None
    start = today - datetime.timedelta(days=rng.randint(105, 119))
    every_day = tuple(range(1, 8))

    def regimen(
        phase: str, begins: datetime.date, ends: datetime.date | None, weekdays: tuple[int, ...]
    ) -> RegimenPlan:
        return RegimenPlan(seeded_uuid(rng), phase, begins, ends, weekdays, areas, drug, strength, tube)

    draw = rng.random()
    if step_down is None:
        step_down = draw >= 0.75
    if step_down:
        switch = start + datetime.timedelta(days=rng.randint(42, 70))
        first = regimen("treatment", start, switch - datetime.timedelta(days=1), every_day)
        second = regimen("maintenance", switch, None, rng.choice(MAINTENANCE_WEEKDAYS))
        second.previous = first.id
        return [first, second]
    if draw < 0.65:
        return [regimen("treatment", start, None, every_day)]
    return [regimen("maintenance", start, None, rng.choice(MAINTENANCE_WEEKDAYS))]


# --- Rows of the small tables --------------------------------------------------------------------


def patient_rows(people: People) -> Iterator[tuple[object, ...]]:
    created = people.anchor - datetime.timedelta(days=DAYS + 20)
    for patient in people.patients:
        yield (
            patient.id,
            patient.first_name,
            patient.last_name,
            patient.birth_date,
            patient.zone,
            patient.condition,
            created,
            created,
            patient.user_id,
        )


def regimen_rows(people: People) -> Iterator[tuple[object, ...]]:
    created = people.anchor - datetime.timedelta(days=DAYS + 10)
    times = json.dumps([wall.strftime("%H:%M") for wall in DOSE_TIMES])
    for patient in people.patients:
        for regimen in patient.regimens:
            yield (
                regimen.id,
                regimen.drug,
                regimen.strength,
                regimen.phase,
                json.dumps(list(regimen.areas)),
                times,
                json.dumps(list(regimen.weekdays)),
                regimen.start,
                regimen.end,
                regimen.tube,
                created,
                created,
                patient.clinician_id,
                patient.id,
                regimen.previous,
            )


def membership_rows(people: People) -> Iterator[tuple[object, ...]]:
    joined = people.anchor - datetime.timedelta(days=DAYS + 20)
    for patient in people.patients:
        yield (joined, patient.clinician_id, patient.id)


def caregiver_rows(people: People) -> Iterator[tuple[object, ...]]:
    for patient in people.patients:
        if patient.caregiver_id:
            yield (patient.id, patient.caregiver_id)


def timezone_change_rows(people: People) -> Iterator[tuple[object, ...]]:
    for patient in people.patients:
        if patient.moved:
            yield (patient.moved[0], patient.moved[1], patient.id)


# --- Rows of the logs ----------------------------------------------------------------------------


def log_common(
    rng: random.Random, patient: PatientPlan, moment: datetime.datetime, log_id: uuid.UUID
) -> tuple[object, ...]:
    """id, note, fingerprint, created_at, updated_at, deleted_at (the columns every log starts with)."""
    created = moment + datetime.timedelta(seconds=rng.randrange(5, 600))
    deleted = created + datetime.timedelta(hours=1) if rng.random() < 0.003 else None
    note = rng.choice(NOTES) if rng.random() < 0.03 else ""
    return (log_id, note, fingerprint(log_id), created, created, deleted)


def dose_slots(patient: PatientPlan, today: datetime.date) -> int:
    first = patient.first_day(today)
    days = (today - first).days + 1
    return sum(
        len(DOSE_TIMES)
        for offset in range(days)
        for regimen in patient.regimens
        if regimen.runs_on(first + datetime.timedelta(days=offset))
    )


def application_rows(people: People, rng: random.Random, scale: float) -> Iterator[tuple[object, ...]]:
    anchor = people.anchor
    for patient in people.patients:
        today = anchor.astimezone(zone_named(patient.zone)).date()
        first = patient.first_day(today)
        chance = min(1.0, patient.adherence * scale) if patient.role != "heavy" else 1.0
        for offset in range((today - first).days + 1):
            date = first + datetime.timedelta(days=offset)
            for regimen in patient.regimens:
                if not regimen.runs_on(date):
                    continue
                for wall in DOSE_TIMES:
                    if rng.random() >= chance:
                        continue
                    applied_at = patient.at(date, wall) + datetime.timedelta(minutes=rng.randint(-45, 150))
                    if applied_at > anchor:
                        continue
                    log_id = seeded_uuid(rng)
                    patient.applications.append((applied_at, log_id))
                    areas = list(regimen.areas) if rng.random() < 0.9 else [rng.choice(regimen.areas)]
                    amount = f"{rng.choice((0.5, 1, 1, 1.5, 2, 2.5, 3, 4)):.2f}" if rng.random() < 0.55 else None
                    yield (
                        *log_common(rng, patient, applied_at, log_id),
                        applied_at,
                        json.dumps(areas),
                        amount,
                        patient.creator,
                        patient.id,
                        regimen.id,
                    )


def symptom_counts(people: People, rng: random.Random, total: int) -> dict[int, int]:
    """How many symptom entries each patient has: the heavy one 5 a day, the rest by weight."""
    heavy = people.review["heavy"]
    counts: dict[int, int] = {heavy.index: DAYS * 5}
    others = [patient for patient in people.patients if patient.role != "heavy"]
    drawn = Counter(
        rng.choices([p.index for p in others], weights=[p.symptom_weight for p in others], k=total - DAYS * 5)
    )
    counts.update(drawn)
    return counts


def nrs(rng: random.Random, mean: float, spread: float, top: int) -> int:
    return min(top, max(0, round(rng.gauss(mean, spread))))


def symptom_rows(people: People, rng: random.Random, counts: dict[int, int]) -> Iterator[tuple[object, ...]]:
    anchor = people.anchor
    for patient in people.patients:
        today = anchor.astimezone(zone_named(patient.zone)).date()
        start = patient.at(patient.first_day(today), datetime.time(7, 0))
        span = int((anchor - start).total_seconds())
        patient.applications.sort()
        times = [application for application, _ in patient.applications]
        areas = sorted({area for regimen in patient.regimens for area in regimen.areas})
        for _ in range(counts.get(patient.index, 0)):
            recorded_at = start + datetime.timedelta(seconds=rng.randrange(span))
            ease = 1 - 0.6 * patient.progress(recorded_at, anchor)
            burning = itch = flare = None
            while burning is None and itch is None and flare is None:
                if rng.random() < 0.7:
                    burning = nrs(rng, 6 * patient.severity * ease, 1.5, 10)
                if rng.random() < 0.7:
                    itch = nrs(rng, 7 * patient.severity * ease, 1.5, 10)
                if rng.random() < 0.5:
                    flare = nrs(rng, 3 * patient.severity * ease, 0.7, 4)
            linked = None
            if times and rng.random() < 0.15:
                before = bisect.bisect_right(times, recorded_at) - 1
                if before >= 0 and recorded_at - times[before] < datetime.timedelta(hours=6):
                    linked = patient.applications[before][1]
            log_id = seeded_uuid(rng)
            yield (
                *log_common(rng, patient, recorded_at, log_id),
                recorded_at,
                burning,
                itch,
                flare,
                json.dumps(rng.sample(areas, k=min(len(areas), rng.randint(0, 2)))),
                linked,
                patient.creator,
                patient.id,
            )


def weekly_slots(
    people: People, rng: random.Random, *, eczema_only: bool
) -> list[tuple[PatientPlan, datetime.datetime]]:
    """One moment a week (in the evening, local) per patient since their first regimen started."""
    slots = []
    for patient in people.patients:
        if eczema_only and not patient.eczema:
            continue
        today = people.anchor.astimezone(zone_named(patient.zone)).date()
        first = patient.first_day(today)
        for offset in range(rng.randrange(7), (today - first).days + 1, 7):
            date = first + datetime.timedelta(days=offset)
            moment = patient.at(date, datetime.time(19, rng.randrange(60)))
            if moment <= people.anchor:
                slots.append((patient, moment))
    return slots


def chosen(
    people: People,
    rng: random.Random,
    slots: list[tuple[PatientPlan, datetime.datetime]],
    count: int,
    heavy_per_week: int,
) -> list[tuple[PatientPlan, datetime.datetime]]:
    """`count` of the slots: all the heavy patient's, the rest drawn at random; in patient order."""
    heavy = people.review["heavy"]
    today = people.anchor.astimezone(zone_named(heavy.zone)).date()
    first = heavy.first_day(today)
    mine = [
        (heavy, heavy.at(first + datetime.timedelta(days=offset), datetime.time(19, 30)))
        for offset in range(0, (today - first).days + 1, 7 // heavy_per_week)
    ]
    mine = [slot for slot in mine if slot[1] <= people.anchor]
    others = [slot for slot in slots if slot[0] is not heavy]
    if len(others) < count - len(mine):
        raise AssertionError(f"only {len(others) + len(mine)} slots for {count} logs")
    picked = mine + rng.sample(others, count - len(mine))
    return sorted(picked, key=lambda slot: (slot[0].index, slot[1]))


def poem_rows(picked: list[tuple[PatientPlan, datetime.datetime]], people: People, rng: random.Random) -> Iterator:
    from tracking import rules

    for patient, recorded_at in picked:
        ease = 1 - 0.5 * patient.progress(recorded_at, people.anchor)
        answers: list[int | None] = [nrs(rng, 3.2 * patient.severity * ease, 0.8, 4) for _ in range(7)]
        draw = rng.random()
        if draw < 0.05:
            answers[rng.randrange(7)] = None
        elif draw < 0.06:
            answers[0] = answers[3] = None
        score = rules.poem_score(answers)
        log_id = seeded_uuid(rng)
        yield (
            *log_common(rng, patient, recorded_at, log_id),
            recorded_at,
            json.dumps(answers),
            score,
            rules.poem_band(score) if score is not None else "",
            patient.creator,
            patient.id,
        )


def skin_check_rows(picked: list[tuple[PatientPlan, datetime.datetime]], rng: random.Random) -> Iterator:
    for patient, performed_at in picked:
        log_id = seeded_uuid(rng)
        concerning = rng.random() < 0.03
        if concerning:
            patient.concerning_checks.append(log_id)
        by_clinician = rng.random() < 0.05
        yield (
            *log_common(rng, patient, performed_at, log_id),
            performed_at,
            "clinician" if by_clinician else "self",
            concerning,
            patient.clinician_id if by_clinician else patient.creator,
            patient.id,
        )


def alert_rows(people: People, rng: random.Random) -> Iterator[tuple[object, ...]]:
    anchor = people.anchor
    for patient in people.patients:
        draw = rng.random()
        open_count = 0
        if patient.role in ("heavy", "typical") or draw < 0.1:
            open_count = 2 if patient.role == "typical" or rng.random() < 0.3 else 1
        kinds = ["persistent_burning", "no_improvement", "worsening_flare", "low_adherence"]
        if patient.concerning_checks:
            kinds.append("concerning_skin_check")
        for kind in rng.sample(kinds, open_count):
            severity, summary = ALERT_TEXT[kind]
            regimen = patient.regimens[-1]
            key = ""
            if kind == "no_improvement":
                key = f"regimen:{regimen.id}"
            elif kind == "concerning_skin_check":
                key = f"skin_check:{rng.choice(patient.concerning_checks)}"
            opened = anchor - datetime.timedelta(days=rng.uniform(0, 20))
            evidence = json.dumps({"bench": True})
            yield (
                seeded_uuid(rng),
                kind,
                severity,
                key,
                summary,
                evidence,
                opened,
                None,
                "",
                patient.id,
                regimen.id,
                None,
            )
        if 0.1 <= draw < 0.25 or patient.role == "typical":
            kind = rng.choice(RESOLVED_KINDS)
            severity, summary = ALERT_TEXT[kind]
            opened = anchor - datetime.timedelta(days=rng.uniform(20, 100))
            resolved = opened + datetime.timedelta(days=rng.uniform(1, 5))
            note = "Reviewed in clinic; plan unchanged."
            evidence = json.dumps({"bench": True})
            regimen = patient.regimens[0]
            yield (
                seeded_uuid(rng),
                kind,
                severity,
                "",
                summary,
                evidence,
                opened,
                resolved,
                note,
                patient.id,
                regimen.id,
                patient.clinician_id,
            )


# --- Loading -------------------------------------------------------------------------------------

COPY_TARGETS = {
    "users": shared.USER_COLUMNS,
    "patients": shared.PATIENT_COLUMNS,
    "caregivers": ("accounts_patient_caregivers", "patient_id, user_id"),
    "memberships": ("accounts_careteammembership", "joined_at, clinician_id, patient_id"),
    "timezone changes": ("accounts_patienttimezonechange", "timezone, until, patient_id"),
    "regimens": (
        "tracking_regimen",
        "id, drug, strength, phase, body_areas, times, weekdays, start_date, end_date, tube_grams, created_at, "
        "updated_at, created_by_id, patient_id, previous_id",
    ),
    "applications": (
        "tracking_application",
        "id, note, fingerprint, created_at, updated_at, deleted_at, applied_at, body_areas, amount_ftu, "
        "created_by_id, patient_id, regimen_id",
    ),
    "symptoms": (
        "tracking_symptom",
        "id, note, fingerprint, created_at, updated_at, deleted_at, recorded_at, burning, itch, flare_severity, "
        "body_areas, application_id, created_by_id, patient_id",
    ),
    "poem": (
        "tracking_poementry",
        "id, note, fingerprint, created_at, updated_at, deleted_at, recorded_at, answers, score, band, "
        "created_by_id, patient_id",
    ),
    "skin_checks": (
        "tracking_skincheck",
        "id, note, fingerprint, created_at, updated_at, deleted_at, performed_at, performed_by, concerning, "
        "created_by_id, patient_id",
    ),
    "alerts": (
        "tracking_alert",
        "id, kind, severity, episode_key, summary, evidence, opened_at, resolved_at, resolution_note, patient_id, "
        "regimen_id, resolved_by_id",
    ),
}
LOG_TABLES = ("tracking_application", "tracking_symptom", "tracking_poementry", "tracking_skincheck")


def copy_rows(connection: psycopg.Connection, name: str, rows: Iterable[tuple[object, ...]]) -> tuple[int, float]:
    """COPY the rows into the table, in a transaction of their own, saying how far it got; count and seconds."""
    with connection.transaction():
        count, seconds = shared.copy_rows(
            connection,
            COPY_TARGETS[name],
            rows,
            progress=lambda done, elapsed: say(f"    {name}: {done:,} rows, {elapsed:.0f} s"),
        )
    say(f"  {name}: {count:,} rows in {seconds:.1f} s")
    return count, seconds


def read_meta(connection: psycopg.Connection) -> dict[str, str]:
    return shared.read_meta(connection, common.META_TABLE)


def stale_reason(connection: psycopg.Connection, now: datetime.datetime) -> str:
    """Why the data set must be (re)loaded; "" when it is there, complete and recent."""
    meta = read_meta(connection)
    if not meta:
        return "no data set"
    if meta.get("version") != SETUP_VERSION:
        return f"data set version {meta.get('version')}, not {SETUP_VERSION}"
    anchor = datetime.datetime.fromisoformat(meta["anchor"])
    if now - anchor > MAX_AGE:
        return f"data set anchored at {anchor:%Y-%m-%d %H:%M}Z, more than {MAX_AGE.days} days ago"
    counts = logs_count(connection)
    summaries = connection.execute("SELECT count(*) FROM tracking_patientsummary").fetchone()
    if counts != LOGS or summaries != (PATIENTS,):
        return f"incomplete ({counts:,} logs, {summaries[0] if summaries else 0:,} summaries)"
    return ""


def logs_count(connection: psycopg.Connection) -> int:
    total = 0
    for table in LOG_TABLES:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        total += int(row[0]) if row else 0
    return total


def load(connection: psycopg.Connection, anchor: datetime.datetime) -> dict[str, str]:
    """Empty the bench's tables, build and COPY the data set; what the meta table records."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    timings: dict[str, float] = {}
    connection.execute(f"DROP TABLE IF EXISTS {common.META_TABLE}")
    # CASCADE: every table that refers to users or patients (regimens, logs, alerts, summaries, audit) goes too.
    connection.execute("TRUNCATE accounts_user, accounts_patient RESTART IDENTITY CASCADE")
    start = time.perf_counter()
    people = build_people(anchor, rng)
    say(f"  people and regimens built in {time.perf_counter() - start:.1f} s")
    small = {
        "users": people.users,
        "patients": patient_rows(people),
        "caregivers": caregiver_rows(people),
        "memberships": membership_rows(people),
        "timezone changes": timezone_change_rows(people),
        "regimens": regimen_rows(people),
    }
    for name, rows in small.items():
        copy_rows(connection, name, rows)
    # The users were given their ids; the next one Django makes follows them.
    connection.execute(
        "SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), (SELECT max(id) FROM accounts_user))"
    )

    # Each patient logs a due dose with their adherence, scaled so the total is about LOG_COUNTS's.
    expected = 0.0
    for patient in people.patients:
        today = anchor.astimezone(zone_named(patient.zone)).date()
        expected += dose_slots(patient, today) * patient.adherence
    scale = LOG_COUNTS["applications"] / expected
    counts: dict[str, int] = {}
    counts["applications"], timings["applications"] = copy_rows(
        connection, "applications", application_rows(people, rng, scale)
    )
    poem = chosen(people, rng, weekly_slots(people, rng, eczema_only=True), LOG_COUNTS["poem"], 1)
    checks = chosen(people, rng, weekly_slots(people, rng, eczema_only=False), LOG_COUNTS["skin_checks"], 2)
    symptoms = LOGS - counts["applications"] - LOG_COUNTS["poem"] - LOG_COUNTS["skin_checks"]
    counts["symptoms"], timings["symptoms"] = copy_rows(
        connection, "symptoms", symptom_rows(people, rng, symptom_counts(people, rng, symptoms))
    )
    counts["poem"], timings["poem"] = copy_rows(connection, "poem", poem_rows(poem, people, rng))
    counts["skin_checks"], timings["skin_checks"] = copy_rows(connection, "skin_checks", skin_check_rows(checks, rng))
    counts["alerts"], _ = copy_rows(connection, "alerts", alert_rows(people, rng))
    if sum(counts[name] for name in ("applications", "symptoms", "poem", "skin_checks")) != LOGS:
        raise AssertionError(f"{counts}: not {LOGS:,} logs")
    return {
        "version": SETUP_VERSION,
        "anchor": anchor.isoformat(),
        "search_term": people.search_term,
        **{f"patient_{role}": str(patient.id) for role, patient in people.review.items()},
        **{f"count_{name}": str(count) for name, count in counts.items()},
        "users": str(len(people.users)),
        "regimens": str(sum(len(patient.regimens) for patient in people.patients)),
    }


def analyze(connection: psycopg.Connection) -> float:
    start = time.perf_counter()
    connection.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - start


# --- Summaries -----------------------------------------------------------------------------------


def init_worker() -> None:
    """A summary process: Django set up on its own connection (the environment comes from the parent)."""
    import django

    shared.project_root_first(common.HERE)
    django.setup()


def refresh_summaries(patient_ids: list[str]) -> list[float]:
    """`summary_refresh` for each patient, as the hourly job calls it; the seconds of each call."""
    from accounts.models import Patient
    from tracking.review.services import summary_refresh

    seconds = []
    patients = Patient.objects.filter(pk__in=patient_ids).order_by("pk").prefetch_related("timezone_changes")
    for patient in patients.iterator(chunk_size=200):
        start = time.perf_counter()
        summary_refresh(patient)
        seconds.append(time.perf_counter() - start)
    return seconds


def fill_summaries(processes: int = SUMMARY_PROCESSES, chunk: int = 250) -> dict[str, str]:
    """Every patient's summary in `processes` processes, then a serial sample; the figures for the meta table."""
    from django.db import connections

    from accounts.models import Patient

    ids = [str(pk) for pk in Patient.objects.order_by("pk").values_list("pk", flat=True)]
    connections.close_all()
    chunks = [ids[position : position + chunk] for position in range(0, len(ids), chunk)]
    durations: list[float] = []
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=init_worker) as pool:
        for done, seconds in enumerate(pool.imap_unordered(refresh_summaries, chunks), 1):
            durations.extend(seconds)
            if done % 8 == 0 or done == len(chunks):
                say(f"    summaries: {len(durations):,}/{len(ids):,} patients, {time.perf_counter() - start:.0f} s")
    wall = time.perf_counter() - start
    # One process alone, as the hourly job runs it: the cost per patient without a neighbour on the other core.
    serial = refresh_summaries(ids[:: len(ids) // SUMMARY_SERIAL_SAMPLE][:SUMMARY_SERIAL_SAMPLE])
    figures = {
        "summary_processes": str(processes),
        "summary_wall_s": f"{wall:.1f}",
        "summary_parallel_median_ms": f"{statistics.median(durations) * 1000:.2f}",
        "summary_serial_patients": str(len(serial)),
        "summary_serial_median_ms": f"{statistics.median(serial) * 1000:.2f}",
        "summary_serial_mean_ms": f"{statistics.fmean(serial) * 1000:.2f}",
        "summary_serial_p90_ms": f"{statistics.quantiles(serial, n=10)[-1] * 1000:.2f}",
    }
    say(
        f"  summaries: {len(durations):,} in {wall:.1f} s with {processes} processes "
        f"(median {figures['summary_parallel_median_ms']} ms a patient in each); one process alone, "
        f"{len(serial)} patients: median {figures['summary_serial_median_ms']} ms, mean "
        f"{figures['summary_serial_mean_ms']} ms a patient"
    )
    return figures


def query_count_of_refresh() -> int:
    """The queries of one `summary_refresh` (the heavy patient's; the count does not depend on the logs)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Patient
    from tracking.review.services import summary_refresh

    patient = Patient.objects.prefetch_related("timezone_changes").order_by("pk").first()
    if patient is None:
        return 0
    with CaptureQueriesContext(connection) as captured:
        summary_refresh(patient)
    return len(captured.captured_queries)


def ensure(*, force: bool = False) -> bool:
    """Load the data set unless it is already there; whether it was loaded now."""
    from django.utils import timezone

    now = timezone.now().replace(second=0, microsecond=0)
    with psycopg.connect(environment.conninfo(), autocommit=True) as connection:
        reason = "--force" if force else stale_reason(connection, now)
        if not reason:
            meta = read_meta(connection)
            say(f"  data set anchored at {meta['anchor']} is there: nothing to load")
            return False
        shared.refuse_foreign_users(connection, common.EMAIL_DOMAIN, "tacro_bench_admin")
        say(f"  loading ({reason}); anchor {now.isoformat()}")
        start = time.perf_counter()
        meta = load(connection, now)
        meta["load_s"] = f"{time.perf_counter() - start:.1f}"
        meta["analyze_load_s"] = f"{analyze(connection):.1f}"
        say(f"  loaded in {meta['load_s']} s; VACUUM ANALYZE {meta['analyze_load_s']} s")
    meta |= fill_summaries()
    meta["summary_queries"] = str(query_count_of_refresh())
    with psycopg.connect(environment.conninfo(), autocommit=True) as connection:
        meta["analyze_end_s"] = f"{analyze(connection):.1f}"
        meta["setup_s"] = f"{time.perf_counter() - start:.1f}"
        shared.write_meta(connection, common.META_TABLE, meta)
    say(f"  set up in {meta['setup_s']} s (VACUUM ANALYZE at the end {meta['analyze_end_s']} s)")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="build and load the data set even if it is there")
    parser.add_argument("--recreate", action="store_true", help="drop and create the database first")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    database = common.configure(recreate=args.recreate)
    loaded = ensure(force=args.force)
    say(f"{database}: {'loaded' if loaded else 'already set up'} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
