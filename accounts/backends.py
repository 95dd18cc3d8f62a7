"""Authentication by e-mail, and admin permissions that follow from the user's role."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from accounts import tokens
from accounts.models import Role

# What each role may do in the admin, so nobody has to assign groups by hand.
# Clinic staff create dermatologist accounts (API.md: they are not self-registered).
# Clinicians read what patients log; only the patient or a caregiver writes it (through the API).
PATIENT_LOG_VIEWS = (
    "tracking.view_regimen",
    "tracking.view_application",
    "tracking.view_symptom",
    "tracking.view_poementry",
    "tracking.view_skincheck",
)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.DERMATOLOGIST: frozenset(
        {
            "accounts.view_patient",
            "accounts.view_careteamjoincode",
            "accounts.add_careteamjoincode",
            # Alerts are triaged by resolving them with a note (tracking/admin/alerts.py).
            "tracking.view_alert",
            "tracking.change_alert",
            *PATIENT_LOG_VIEWS,
        }
    ),
    Role.CLINIC_STAFF: frozenset(
        {
            "accounts.view_patient",
            "accounts.change_patient",
            "accounts.view_careteammembership",
            "accounts.add_careteammembership",
            "accounts.delete_careteammembership",
            "accounts.view_careteamjoincode",
            "accounts.add_careteamjoincode",
            "accounts.view_user",
            "accounts.add_user",
            "accounts.change_user",
            "tracking.view_alert",
            "tracking.change_alert",
            *PATIENT_LOG_VIEWS,
            # Clinic staff oversee who viewed what; the records are never edited (accounts/admin/audit.py).
            "accounts.view_accessrecord",
        }
    ),
}


class EmailRoleBackend(ModelBackend):
    """Django's model backend (e-mail is the username field) plus permissions granted by role.

    Role permissions apply only to staff accounts: a patient with is_staff off never reaches the admin.
    """

    def user_can_authenticate(self, user: Any) -> bool:
        # An account that may not sign in yet (an unconfirmed address, accounts.tokens.may_sign_in) is
        # refused like a wrong password: Django then announces a failure and the lockout counts it, so
        # repeated tries cannot tell a taken address from a new one (review of #22).
        return super().user_can_authenticate(user) and tokens.may_sign_in(user)

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        permissions = set(super().get_all_permissions(user_obj, obj))
        if user_obj.is_active and getattr(user_obj, "is_staff", False) and obj is None:
            permissions |= ROLE_PERMISSIONS.get(getattr(user_obj, "role", ""), frozenset())
        return permissions

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return user_obj.is_active and perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return user_obj.is_active and any(
            perm.startswith(f"{app_label}.") for perm in self.get_all_permissions(user_obj)
        )
