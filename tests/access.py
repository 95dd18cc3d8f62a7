"""The access matrix: every patient route x every kind of caller → the status they must get.

A later issue adds its routes with one line in ROUTES (tests/accounts/test_access_matrix.py),
choosing READ or ACT and, where it needs one, a body built from the world.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accounts.models import CareTeamJoinCode, Patient, User

ACTORS = (
    "patient",
    "caregiver",
    "other_patient",
    "other_caregiver",
    "assigned_dermatologist",
    "unassigned_dermatologist",
    "anonymous",
)

# 404 for whatever a caller may not see (never reveal it exists), 401 without credentials,
# 403 for a clinician who may see the patient but not act for them.
READ = {
    "patient": 200,
    "caregiver": 200,
    "other_patient": 404,
    "other_caregiver": 404,
    "assigned_dermatologist": 200,
    "unassigned_dermatologist": 404,
    "anonymous": 401,
}
ACT = {**READ, "assigned_dermatologist": 403}


@dataclass
class World:
    """One patient (with a login and a caregiver) and a caller of every kind around them."""

    patient: Patient
    users: dict[str, User | None]
    dermatologist: User
    extra: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # for the other placeholders of a route's path

    def path(self, route: Route, patient_id: object = None) -> str:
        return route.path.format(patient=patient_id or self.patient.pk, **self.ids)


BodyFactory = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # "{patient}" is replaced by the patient's id, other placeholders from World.ids
    expected: dict[str, int]
    body: BodyFactory | None = None
    success: int | None = None  # the success status, when it is not 200 (201, 204, ...)
    overrides: tuple[tuple[str, int], ...] = ()

    def status_for(self, actor: str) -> int:
        status = dict(self.overrides).get(actor, self.expected[actor])
        return self.success if status == 200 and self.success else status

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def fresh_join_code(world: World) -> dict[str, Any]:
    code = CareTeamJoinCode.objects.create(
        dermatologist=world.extra["joining_dermatologist"],
        created_by=world.extra["joining_dermatologist"],
        expires_at=world.extra["code_expires_at"],
    )
    return {"code": code.code, "patient": str(world.patient.pk)}
