"""Writes on the treatment record, one module per concern: regimens.py (prescribe, change, step
down) and logs.py (record one or an offline batch, correct, delete). Each owns its transaction.

The names below are the package's door: `from tracking import services; services.regimen_prescribe(...)`.
"""

from tracking.services.logs import (
    LOG_KINDS,
    WHOLE_REQUEST,
    LogKind,
    LogResult,
    Outcome,
    fingerprint,
    log_correct,
    log_delete,
    log_record,
    logs_changed,
    logs_record,
)
from tracking.services.regimens import (
    REGIMEN_CHANGEABLE_FIELDS,
    regimen_prescribe,
    regimen_step_down,
    regimen_update,
)

__all__ = [
    "LOG_KINDS",
    "REGIMEN_CHANGEABLE_FIELDS",
    "WHOLE_REQUEST",
    "LogKind",
    "LogResult",
    "Outcome",
    "fingerprint",
    "log_correct",
    "log_delete",
    "log_record",
    "logs_changed",
    "logs_record",
    "regimen_prescribe",
    "regimen_step_down",
    "regimen_update",
]
