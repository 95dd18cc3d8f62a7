"""The HTTP routes of the treatment record under /api/v1/patients/{patient}/, one module per concern.
Thin: validate, call one service or selector, answer. Who may see or act for the patient is decided
by `accounts.apis.patient_for_request` (the accounts access selector).

- regimens.py: list, prescribe, read, change, step down;
- logs.py: the four log types (applications, symptoms, POEM, skin checks), list/create and detail;
- sync.py: a batch written offline; adherence.py: doses logged over doses due;
- shared.py: what they share (the patient's clock).

The names below are the package's door, as tracking/urls.py reads them.
"""

from tracking.apis.adherence import AdherenceApi
from tracking.apis.logs import (
    ApplicationDetailApi,
    ApplicationListApi,
    PoemDetailApi,
    PoemListApi,
    SkinCheckDetailApi,
    SkinCheckListApi,
    SymptomDetailApi,
    SymptomListApi,
)
from tracking.apis.regimens import RegimenDetailApi, RegimenListApi, RegimenStepDownApi
from tracking.apis.sync import SyncApi

__all__ = [
    "AdherenceApi",
    "ApplicationDetailApi",
    "ApplicationListApi",
    "PoemDetailApi",
    "PoemListApi",
    "RegimenDetailApi",
    "RegimenListApi",
    "RegimenStepDownApi",
    "SkinCheckDetailApi",
    "SkinCheckListApi",
    "SymptomDetailApi",
    "SymptomListApi",
    "SyncApi",
]
