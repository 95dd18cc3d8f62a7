"""`manage.py seed_demo`: the demo clinic. Idempotent: running it again changes nothing."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import CareTeamMembership, Condition, Patient, Role, User
from tracking.management.demo import seed_demo_tracking
from tracking.selectors import adherence_for

DEMO_PASSWORD = "tacro-demo-2026"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: Role
    first_name: str
    last_name: str
    is_staff: bool = False


DERMATOLOGIST = DemoLogin("dermatologist@demo.example", Role.DERMATOLOGIST, "Maryam", "Haddad", is_staff=True)
OTHER_DERMATOLOGIST = DemoLogin("other.dermatologist@demo.example", Role.DERMATOLOGIST, "Jonas", "Berg", is_staff=True)
CLINIC_STAFF = DemoLogin("staff@demo.example", Role.CLINIC_STAFF, "Lena", "Okafor", is_staff=True)
ADULT_AD_PATIENT = DemoLogin("amira@demo.example", Role.PATIENT, "Amira", "Saleh")
CAREGIVER = DemoLogin("parent@demo.example", Role.CAREGIVER, "Daniel", "Weber")
LUPUS_PATIENT = DemoLogin("grace@demo.example", Role.PATIENT, "Grace", "Miller")


def years_ago(today: datetime.date, years: int, extra_days: int) -> datetime.date:
    """A birth date that makes someone `years` old today, `extra_days` past their birthday."""
    anniversary = (
        today.replace(year=today.year - years)
        if (today.month, today.day) != (2, 29)
        else (today.replace(year=today.year - years, day=28))
    )
    return anniversary - datetime.timedelta(days=extra_days)


class Command(BaseCommand):
    help = "Create the demo clinic: a dermatologist, clinic staff, and three patients. Prints the logins."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        users = {
            login: self._login(login)
            for login in (DERMATOLOGIST, OTHER_DERMATOLOGIST, CLINIC_STAFF, ADULT_AD_PATIENT, CAREGIVER, LUPUS_PATIENT)
        }

        adult = self._patient(
            user=users[ADULT_AD_PATIENT],
            first_name="Amira",
            last_name="Saleh",
            birth_date=years_ago(today, 34, 120),
            timezone_name="Asia/Qatar",
            condition=Condition.ATOPIC_DERMATITIS,
        )
        child = self._patient(
            user=None,
            first_name="Noah",
            last_name="Weber",
            birth_date=years_ago(today, 8, 60),
            timezone_name="Europe/Berlin",
            condition=Condition.ATOPIC_DERMATITIS,
        )
        child.caregivers.add(users[CAREGIVER])
        lupus = self._patient(
            user=users[LUPUS_PATIENT],
            first_name="Grace",
            last_name="Miller",
            birth_date=years_ago(today, 46, 200),
            timezone_name="America/New_York",
            condition=Condition.CLE_DISCOID,
        )
        for patient in (adult, child, lupus):
            CareTeamMembership.objects.get_or_create(patient=patient, clinician=users[DERMATOLOGIST])
        seed_demo_tracking(adult=adult, child=child, lupus=lupus, caregiver=users[CAREGIVER])

        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        rows = [
            (DERMATOLOGIST, "dermatologist, admin at /admin/; on the care team of all three patients"),
            (OTHER_DERMATOLOGIST, "dermatologist with no patients (sees nobody)"),
            (CLINIC_STAFF, "clinic staff, admin at /admin/; sees every patient"),
            (ADULT_AD_PATIENT, "patient, adult with atopic dermatitis (Asia/Qatar)"),
            (CAREGIVER, "caregiver of Noah, 8, atopic dermatitis (Europe/Berlin)"),
            (LUPUS_PATIENT, "patient, adult with discoid lupus (America/New_York)"),
        ]
        for login, what in rows:
            self.stdout.write(f"  {login.email:<36} {what}")
        self.stdout.write("Their last two weeks (dose adherence):")
        for patient, story in (
            (adult, "adherent, improving, stepped down to maintenance"),
            (child, "burning settled after the first week"),
            (lupus, "adherence slipping"),
        ):
            today = patient.local_today()
            report = adherence_for(patient, first=today - datetime.timedelta(days=13), last=today)
            self.stdout.write(f"  {patient!s:<14} {report.adherence_pct}%  ({story})")
        self.stdout.write("Open alerts for the care team:")
        for patient in (adult, child, lupus):
            for alert in patient.alerts.filter(resolved_at__isnull=True):
                self.stdout.write(f"  {patient!s:<14} {alert.get_kind_display()}: {alert.summary}")
        self.stdout.write(
            "Reminders go out at each regimen's times in the patient's zone: the worker prints emails, "
            "the inbox is GET /api/v1/notifications/."
        )
        self.stdout.write(
            f"Review them: sign in at http://127.0.0.1:8000/admin/ as {DERMATOLOGIST.email}, open Patients, "
            "click a name for the charts and timeline; Alerts for triage."
        )

    def _login(self, login: DemoLogin) -> User:
        user = User.objects.filter(email=login.email).first() or User(email=login.email)
        user.first_name, user.last_name = login.first_name, login.last_name
        user.role, user.is_staff, user.is_active = login.role, login.is_staff, True
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
        user.save()
        return user

    def _patient(
        self,
        *,
        user: User | None,
        first_name: str,
        last_name: str,
        birth_date: datetime.date,
        timezone_name: str,
        condition: Condition,
    ) -> Patient:
        lookup: dict[str, Any] = (
            {"user": user} if user else {"user": None, "first_name": first_name, "last_name": last_name}
        )
        patient, _ = Patient.objects.update_or_create(
            **lookup,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "birth_date": birth_date,
                "timezone": timezone_name,
                "condition": condition,
            },
        )
        return patient
