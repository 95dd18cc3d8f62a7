"""The admin for accounts, by concern: patient-data scoping and audit, accounts, patients and join codes.

Importing the package registers every model admin on the site (Django's admin autodiscovery imports
`accounts.admin`). tracking's admin builds on `PatientDataAdmin` and `PatientAdmin`.
"""

from accounts.admin.audit import AccessRecordAdmin, LogEntryAdmin, ReadOnlyAdmin, log_admin_change, without_name
from accounts.admin.patient_data import PatientDataAdmin, record_admin_access
from accounts.admin.patients import CareTeamJoinCodeAdmin, PatientAdmin
from accounts.admin.users import UserAdmin

__all__ = [
    "AccessRecordAdmin",
    "CareTeamJoinCodeAdmin",
    "LogEntryAdmin",
    "PatientAdmin",
    "PatientDataAdmin",
    "ReadOnlyAdmin",
    "UserAdmin",
    "log_admin_change",
    "record_admin_access",
    "without_name",
]
