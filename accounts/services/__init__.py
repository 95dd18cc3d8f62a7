"""Writes on accounts, patients and care teams, by concern. Each owns its transaction and validates the row.

users (registration, e-mail, passwords, names), sessions (sign-ins), patients (dependents, details,
care teams and join codes), audit (clinicians' reads). Callers import from `accounts.services`.
"""

from accounts.services.audit import TYPED_PARAMETERS, access_record, audited_path, is_audited_viewer
from accounts.services.patients import care_team_join, join_code_issue, patient_create_dependent, patient_update
from accounts.services.sessions import session_end, session_start, sessions_prune, user_sessions_end
from accounts.services.users import (
    LINK_REFUSED,
    PATIENT_EDITABLE_FIELDS,
    PATIENT_REGISTRATION_FIELDS,
    USER_EDITABLE_FIELDS,
    account_email_after_commit,
    patient_registration_missing,
    user_email_verify,
    user_password_change,
    user_password_reset_confirm,
    user_password_reset_request,
    user_register,
    user_update,
)

__all__ = [
    "LINK_REFUSED",
    "PATIENT_EDITABLE_FIELDS",
    "PATIENT_REGISTRATION_FIELDS",
    "TYPED_PARAMETERS",
    "USER_EDITABLE_FIELDS",
    "access_record",
    "account_email_after_commit",
    "audited_path",
    "care_team_join",
    "is_audited_viewer",
    "join_code_issue",
    "patient_create_dependent",
    "patient_registration_missing",
    "patient_update",
    "session_end",
    "session_start",
    "sessions_prune",
    "user_email_verify",
    "user_password_change",
    "user_password_reset_confirm",
    "user_password_reset_request",
    "user_register",
    "user_sessions_end",
    "user_update",
]
