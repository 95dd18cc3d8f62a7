"""Writes on logs: record (one or an offline batch), correct, delete. Each owns its transaction.

Logs arrive one at a time or in offline batches of hundreds; both go through `logs_record`, so a
duplicate or a conflict is told apart in exactly one place.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

from accounts.clock import PatientClock
from accounts.models import Patient, User
from tacro_topical.task_sending import enqueue
from tracking import rules, tasks
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom
from tracking.models.logs import PatientLog

# The key the API answers errors about a request as a whole under (DRF's NON_FIELD_ERRORS_KEY);
# Django's own NON_FIELD_ERRORS ("__all__") would reach the client as is.
WHOLE_REQUEST = "non_field_errors"


class Outcome(enum.StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    INVALID = "invalid"


@dataclass
class LogResult:
    """What happened to one log: stored now, stored before, refused as a conflict, or invalid."""

    id: uuid.UUID
    outcome: Outcome
    entry: PatientLog | None = None  # the stored entry; never another patient's
    detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


# Lazy: a sync result's detail is read in the asker's language.
REUSED_ID = gettext_lazy("This id is already used by another log. Generate a new UUID for a new log.")
CHANGED_REPLAY = format_lazy(
    gettext_lazy(
        "A log with this id was stored with different content. To change it, PATCH it (within "
        "{hours} hours of logging); to log something new, use a new id."
    ),
    hours=rules.LOG_CORRECTION_HOURS,
)
DELETED_REPLAY = gettext_lazy("The log with this id was deleted; it is not stored again. Use a new id to log it anew.")


def fingerprint(values: Mapping[str, Any]) -> str:
    """SHA-256 of what the client sent, normalised: equal for a replay, different for any change."""

    def normal(name: str, value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            return value.astimezone(datetime.UTC).isoformat()
        if isinstance(value, Decimal):
            return str(value.normalize())
        if isinstance(value, uuid.UUID):
            return str(value)
        if name == "body_areas" and isinstance(value, list):
            return sorted(set(value))
        return value

    canonical = {name: normal(name, value) for name, value in values.items() if name != "id"}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class LogKind:
    """One type of log: its model, the optional fields a replay compares, and how a row is built."""

    model: type[PatientLog]
    optional: Mapping[str, Any]  # field → value when left out, so leaving it out equals sending it
    build: Callable[[Patient, list[dict[str, Any]]], Callable[[dict[str, Any]], dict[str, Any]]]
    # Fields added after logs were stored: left out of the fingerprint when empty (None), so a replay of
    # a log stored before they existed is still a duplicate, not a conflict.
    added_later: frozenset[str] = frozenset()

    def sent(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The item as its fingerprint sees it: the optional fields filled in, empty later additions left out."""
        values = {**self.optional, **item}
        return {name: value for name, value in values.items() if not (name in self.added_later and value is None)}

    def rows(self) -> QuerySet:
        rows = self.model._default_manager.all()
        return rows.select_related("regimen") if self.model is Application else rows  # type: ignore[misc]


def _build_application(patient: Patient, items: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Resolve each application's regimen; the patient's regimens are read once for the batch."""
    regimens = list(Regimen.objects.filter(patient=patient).order_by())  # looked up by id or date: no ORDER BY
    by_id = {regimen.pk: regimen for regimen in regimens}
    clock = PatientClock.for_patient(patient)

    def build(item: dict[str, Any]) -> dict[str, Any]:
        values = dict(item)
        regimen_id = values.pop("regimen", None)
        if regimen_id is not None:
            if regimen_id not in by_id:
                raise ValidationError({"regimen": gettext("This patient has no regimen with this id.")})
            values["regimen"] = by_id[regimen_id]
            return values
        local_date = clock.local_date(values["applied_at"])
        active = [regimen for regimen in regimens if regimen.is_active_on(local_date)]
        if len(active) != 1:
            problem = (
                gettext("On {date} no regimen was active; say which regimen this application belongs to.")
                if not active
                else gettext("On {date} {count} regimens were active; say which regimen this application belongs to.")
            )
            raise ValidationError({"regimen": problem.format(date=local_date, count=len(active))})
        values["regimen"] = active[0]
        return values

    return build


def _build_symptom(patient: Patient, items: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    linked = {item["application"] for item in items if item.get("application")}
    known = set(
        Application.objects.filter(patient=patient, pk__in=linked, deleted_at__isnull=True).values_list("pk", flat=True)
        if linked
        else ()
    )

    def build(item: dict[str, Any]) -> dict[str, Any]:
        values = dict(item)
        application_id = values.pop("application", None)
        if application_id is not None and application_id not in known:
            raise ValidationError({"application": gettext("This patient has no application with this id.")})
        values["application_id"] = application_id
        return values

    return build


def _build_poem(patient: Patient, items: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def build(item: dict[str, Any]) -> dict[str, Any]:
        score = rules.poem_score(item["answers"])
        return {**item, "score": score, "band": rules.poem_band(score) if score is not None else ""}

    return build


def _build_skin_check(patient: Patient, items: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Derive what the answers say (rules.py): concerning when marked or any answer is yes; the urgent signs."""

    def build(item: dict[str, Any]) -> dict[str, Any]:
        answers = {name: item.get(name) for name in rules.SKIN_CHECK_ANSWERS}
        return {
            **item,
            "concerning": rules.skin_check_concerning(concerning=item.get("concerning"), answers=answers),
            "urgent_signs": list(rules.skin_check_urgent_signs(answers)),
        }

    return build


LOG_KINDS: dict[type[PatientLog], LogKind] = {
    Application: LogKind(Application, {"regimen": None, "amount_ftu": None, "note": ""}, _build_application),
    Symptom: LogKind(
        Symptom,
        {"burning": None, "itch": None, "flare_severity": None, "body_areas": [], "application": None, "note": ""},
        _build_symptom,
    ),
    PoemEntry: LogKind(PoemEntry, {"note": ""}, _build_poem),
    SkinCheck: LogKind(
        SkinCheck,
        {"note": ""},
        _build_skin_check,
        # `concerning` became optional with the answers (issue #17): old clients always send it.
        added_later=frozenset({"concerning", *rules.SKIN_CHECK_ANSWERS}),
    ),
}


FOREIGN_KEYS = ["patient", "created_by", "regimen", "application"]


def logs_record(
    *, model: type[PatientLog], patient: Patient, created_by: User, items: Sequence[dict[str, Any]]
) -> list[LogResult]:
    """Store logs of one kind for one patient, each on its own; a result per item, in order.

    `items` have passed the input serializer. An id already stored for this patient with the same
    content is a duplicate; with other content, or under another patient, a conflict (which says
    nothing about the other patient). Queries: one to find stored ids, one or two to build rows,
    one INSERT for all new rows, whatever the batch size; when a concurrent request stored one of
    the ids in between, the INSERT is redone skipping taken ids, and one more query reads the winners.
    """
    kind = LOG_KINDS[model]
    items = [kind.sent(item) for item in items]
    prints = [fingerprint(item) for item in items]
    stored = kind.rows().in_bulk([item["id"] for item in items])

    results: list[LogResult | None] = [None] * len(items)
    unstored: dict[uuid.UUID, list[int]] = {}  # id → positions of the items sending it, in order
    for position, (item, print_) in enumerate(zip(items, prints, strict=True)):
        log_id = item["id"]
        if log_id in stored:
            results[position] = _replay_result(stored[log_id], patient, print_)
        else:
            unstored.setdefault(log_id, []).append(position)

    build = kind.build(patient, [items[position] for positions in unstored.values() for position in positions])
    pending: dict[uuid.UUID, tuple[int, str]] = {}  # id → (position, fingerprint) of a row to insert
    repeats: list[tuple[int, uuid.UUID]] = []  # the same id again in one batch, after a valid item with it
    rows: list[PatientLog] = []
    for log_id, positions in unstored.items():
        for position in positions:
            if log_id in pending:
                repeats.append((position, log_id))
                continue
            try:
                row = model(
                    patient=patient, created_by=created_by, fingerprint=prints[position], **build(items[position])
                )
                # Uniqueness is the INSERT's business below: checking here would cost a query per row.
                # Foreign keys were resolved by `build`; re-checking them would also cost a query per row.
                row.full_clean(exclude=FOREIGN_KEYS, validate_unique=False, validate_constraints=False)
            except ValidationError as error:
                # Nothing is stored under this id by this item: a later item with the id is judged on its own.
                results[position] = LogResult(log_id, Outcome.INVALID, errors=_error_dict(error))
                continue
            pending[log_id] = (position, prints[position])
            rows.append(row)

    winners: dict[Any, PatientLog] = {}
    if rows:
        if _insert_all(model, rows):
            winners = {row.pk: row for row in rows}
        else:
            with transaction.atomic():
                # A concurrent request inserted one of these ids first: its row wins, ours is skipped,
                # and the read below tells a matching replay (duplicate) from a different one (conflict).
                model._default_manager.bulk_create(rows, ignore_conflicts=True)
            winners = kind.rows().in_bulk([row.pk for row in rows])
        for row in rows:
            position = pending[row.pk][0]
            winner = winners.get(row.pk)
            if winner is None:  # inserted by a concurrent request and deleted since: nothing of ours is stored
                results[position] = LogResult(row.pk, Outcome.CONFLICT, detail=str(DELETED_REPLAY))
            elif (winner.created_at, winner.created_by_id, winner.fingerprint) == (
                row.created_at,
                row.created_by_id,
                row.fingerprint,
            ):
                results[position] = LogResult(row.pk, Outcome.CREATED, entry=row)
            else:
                results[position] = _replay_result(winner, patient, row.fingerprint)
    for position, log_id in repeats:  # a replay of what this batch (or a concurrent one) stored under the id
        winner = winners.get(log_id)
        results[position] = (
            _replay_result(winner, patient, prints[position])
            if winner is not None
            else LogResult(log_id, Outcome.CONFLICT, detail=str(DELETED_REPLAY))
        )
    # Every position is filled: stored ids, repeats, invalid items and inserted rows cover them all.
    assert all(result is not None for result in results)  # noqa: S101 - an invariant, not input checking
    if any(result.outcome == Outcome.CREATED for result in results if result is not None):
        logs_changed(patient)
    return results  # type: ignore[return-value]


def _insert_all(model: type[PatientLog], rows: list[PatientLog]) -> bool:
    """INSERT every row, or none and False when an id was stored meanwhile (by a concurrent request).

    The usual case, with no such race, then needs no read to confirm what was stored. A single row
    outside a transaction is one statement, atomic on its own, without BEGIN and COMMIT round trips.
    """
    try:
        if len(rows) == 1 and not transaction.get_connection().in_atomic_block:
            rows[0].save(force_insert=True)
        else:
            with transaction.atomic():  # a savepoint inside a caller's transaction, which stays usable
                model._default_manager.bulk_create(rows)
    except IntegrityError:
        return False
    return True


def logs_changed(patient: Patient, *, schedules_refreshed: bool = False) -> None:
    """Once logs or a regimen are committed: re-derive the schedules, evaluate alerts, refresh the list summary.

    `schedules_refreshed`: the caller re-derived the schedules in its own transaction (a regimen change
    does, so the answer and the next read show them), and the task need not do it again.
    """
    patient_id = str(patient.pk)
    refresh_schedules = not schedules_refreshed
    transaction.on_commit(lambda: enqueue(tasks.patient_logs_changed, patient_id, refresh_schedules))


def _replay_result(existing: PatientLog, patient: Patient, print_: str) -> LogResult:
    if existing.patient_id != patient.pk:
        return LogResult(existing.pk, Outcome.CONFLICT, detail=str(REUSED_ID))
    if existing.deleted_at is not None:
        return LogResult(existing.pk, Outcome.CONFLICT, detail=str(DELETED_REPLAY))
    if existing.fingerprint != print_:
        return LogResult(existing.pk, Outcome.CONFLICT, entry=existing, detail=str(CHANGED_REPLAY))
    return LogResult(existing.pk, Outcome.DUPLICATE, entry=existing)


def _error_dict(error: ValidationError) -> dict[str, list[str]]:
    """Field → messages, with errors about the item as a whole under DRF's key, as the API answers them."""
    if not hasattr(error, "error_dict"):
        return {WHOLE_REQUEST: [str(message) for message in error.messages]}
    return {
        WHOLE_REQUEST if name == NON_FIELD_ERRORS else name: [str(message) for message in messages]
        for name, messages in error.message_dict.items()
    }


def log_record(*, model: type[PatientLog], patient: Patient, created_by: User, item: dict[str, Any]) -> LogResult:
    """One log: raises ValidationError when it is invalid; otherwise created, duplicate or conflict."""
    (result,) = logs_record(model=model, patient=patient, created_by=created_by, items=[item])
    if result.outcome == Outcome.INVALID:
        raise ValidationError(result.errors)
    return result


def _check_may_correct(entry: PatientLog, user: User, changed: set[str]) -> None:
    if entry.created_by_id != user.pk:
        raise PermissionDenied(gettext("Only the person who logged this entry may correct or delete it."))
    window_closed = timezone.now() > entry.created_at + rules.LOG_CORRECTION_WINDOW
    if window_closed and changed - {"note"}:
        raise PermissionDenied(
            gettext(
                "A log can be corrected for {hours} hours after it was logged. After that, "
                "only its note can change: add a note saying what was different."
            ).format(hours=rules.LOG_CORRECTION_HOURS)
        )


@transaction.atomic
def log_correct(*, entry: PatientLog, user: User, changes: dict[str, Any]) -> PatientLog:
    """Correct a log within the window, or change only its note later. The fingerprint stays the
    first content sent, so a late replay of the original is still a duplicate, not a conflict."""
    _check_may_correct(entry, user, set(changes))
    kind = LOG_KINDS[type(entry)]
    merged = {**_current_values(entry), **changes}
    built = kind.build(entry.patient, [merged])(merged)
    if isinstance(entry, Symptom) and "application" not in changes:
        # The stored link was checked when it was made; its application may have been deleted since,
        # which must not block correcting anything else (the note, a score).
        del built["application_id"]
    for name, value in built.items():
        setattr(entry, name, value)
    entry.full_clean(exclude=FOREIGN_KEYS, validate_unique=False)
    entry.save()
    logs_changed(entry.patient)
    return entry


def _current_values(entry: PatientLog) -> dict[str, Any]:
    """The entry as input values, so `build` can re-derive what depends on them (POEM score, regimen)."""
    values: dict[str, Any] = {entry.EVENT_TIME: entry.event_time}
    if isinstance(entry, Application):
        values |= {"regimen": entry.regimen_id, "body_areas": entry.body_areas}
    if isinstance(entry, PoemEntry):
        values |= {"answers": entry.answers}
    if isinstance(entry, SkinCheck):  # what `concerning` and `urgent_signs` are derived from
        values |= {"concerning": entry.concerning, **entry.answers}
    return values


@transaction.atomic
def log_delete(*, entry: PatientLog, user: User) -> None:
    """Delete within the correction window. The row stays as a tombstone so a late replay is refused."""
    _check_may_correct(entry, user, {"deleted"})
    entry.deleted_at = timezone.now()
    entry.save(update_fields=["deleted_at", "updated_at"])
    logs_changed(entry.patient)
