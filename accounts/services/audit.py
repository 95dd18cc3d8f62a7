"""The audit of clinicians' reads: who looked at which patient's data, where and when."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from accounts.models import (
    CLINICIAN_ROLES,
    AccessChannel,
    AccessRecord,
    User,
)


def is_audited_viewer(user: object) -> bool:
    """A clinician's or superuser's reads are audited; a patient or caregiver reads their own record."""
    return bool(
        getattr(user, "is_authenticated", False)
        and (getattr(user, "is_superuser", False) or getattr(user, "role", None) in CLINICIAN_ROLES)
    )


# Query parameters a clinician types: a search may hold a patient's name, which the audit must not keep.
TYPED_PARAMETERS = frozenset({"q"})


def audited_path(request: HttpRequest) -> str:
    """The request's path and query, with what was typed into a search left out."""
    query = request.GET.copy()
    for name in TYPED_PARAMETERS & set(query):
        query[name] = "redacted"
    encoded = query.urlencode(safe="/")
    return f"{request.path}?{encoded}" if encoded else request.path


def access_record(
    *, viewer: User | AnonymousUser, patient_ids: Iterable[uuid.UUID], channel: AccessChannel, what: str, path: str
) -> int:
    """Record that a clinician viewed these patients' data (one row each, one query); return the count.

    Nothing is recorded for patients and caregivers. `what` names the page or operation; `path` is
    the request path with its query (`audited_path`), which holds ids and dates, never a patient's
    words. One bulk INSERT, without full_clean: every field is set here, from the request.
    """
    if not is_audited_viewer(viewer):
        return 0
    viewer = cast(User, viewer)  # authenticated: is_audited_viewer said so
    records = [
        AccessRecord(viewer=viewer, patient_id=patient_id, channel=channel, what=what[:80], path=path[:500])
        for patient_id in dict.fromkeys(patient_ids)  # once per patient, in the order shown
    ]
    AccessRecord.objects.bulk_create(records)
    return len(records)
