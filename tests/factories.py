"""factory_boy factories shared by the whole suite."""

from __future__ import annotations

import datetime

import factory

from accounts.models import CareTeamMembership, Condition, Patient, Role, User

TEST_PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@test.example")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.PATIENT
    password = factory.django.Password(TEST_PASSWORD)


class DermatologistFactory(UserFactory):
    role = Role.DERMATOLOGIST
    is_staff = True


class ClinicStaffFactory(UserFactory):
    role = Role.CLINIC_STAFF
    is_staff = True


class CaregiverFactory(UserFactory):
    role = Role.CAREGIVER


class PatientFactory(factory.django.DjangoModelFactory):
    """A patient with a login of their own."""

    class Meta:
        model = Patient
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role=Role.PATIENT)
    first_name = factory.LazyAttribute(lambda patient: patient.user.first_name if patient.user else "Child")
    last_name = factory.LazyAttribute(lambda patient: patient.user.last_name if patient.user else "")
    birth_date = datetime.date(1990, 5, 17)
    timezone = "Europe/London"
    condition = Condition.ATOPIC_DERMATITIS


class DependentFactory(PatientFactory):
    """A child without a login, managed by a caregiver."""

    user = None
    first_name = factory.Faker("first_name")
    birth_date = datetime.date(2018, 3, 2)

    @factory.post_generation
    def caregiver(self, create: bool, extracted: User | None, **kwargs: object) -> None:
        if create:
            self.caregivers.add(extracted or CaregiverFactory())


class CareTeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareTeamMembership

    patient = factory.SubFactory(PatientFactory)
    clinician = factory.SubFactory(DermatologistFactory)
