from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import CareTeamJoinCode, CareTeamMembership, Condition, Patient, Role, User
from accounts.selectors import patients_visible_to


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_clinic_and_prints_the_logins() -> None:
    output = seed()

    dermatologist = User.objects.get(email="dermatologist@demo.example")
    assert dermatologist.role == Role.DERMATOLOGIST
    assert dermatologist.is_staff
    assert dermatologist.check_password("tacro-demo-2026")
    assert User.objects.get(email="staff@demo.example").role == Role.CLINIC_STAFF
    assert {p.condition for p in patients_visible_to(dermatologist)} == {
        Condition.ATOPIC_DERMATITIS,
        Condition.CLE_DISCOID,
    }
    assert patients_visible_to(dermatologist).count() == 3
    child = Patient.objects.get(user__isnull=True)
    assert child.age_on(timezone.localdate()) == 8
    assert child.caregivers.get().email == "parent@demo.example"
    for email in ("dermatologist@demo.example", "staff@demo.example", "amira@demo.example", "parent@demo.example"):
        assert email in output
    assert "tacro-demo-2026" in output


@pytest.mark.django_db
def test_seed_demo_run_twice_changes_nothing() -> None:
    seed()
    counts = (User.objects.count(), Patient.objects.count(), CareTeamMembership.objects.count())

    seed()

    assert (User.objects.count(), Patient.objects.count(), CareTeamMembership.objects.count()) == counts
    assert CareTeamJoinCode.objects.count() == 0
