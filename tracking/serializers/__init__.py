"""Request and response shapes of the tracking API, one module per concern. Shape and ranges only;
rules live in services and rules.py.

- fields.py: the shared field types (times with an offset, times of day, body areas, scores);
- regimens.py, logs.py, sync.py, adherence.py: each route family's shapes.

The names below are the package's door: `from tracking.serializers import AwareDateTimeField` works
for every shape, wherever it is defined.
"""

from tracking.serializers.adherence import (
    ADHERENCE_EARLIEST,
    ADHERENCE_LATEST,
    AdherenceDaySerializer,
    AdherenceQuerySerializer,
    AdherenceSerializer,
)
from tracking.serializers.fields import (
    CALENDAR_FIRST,
    CALENDAR_LAST,
    EARLIEST_RECORD_TIME,
    TIME_OF_DAY,
    AwareDateTimeField,
    TimeOfDayField,
    body_areas_field,
    log_time_field,
    nrs_field,
    rfc3339,
    score_field,
    times_field,
)
from tracking.serializers.logs import (
    ApplicationCorrectionSerializer,
    ApplicationInputSerializer,
    ApplicationSerializer,
    FtuAmountField,
    LogFilterSerializer,
    LogSerializer,
    PoemCorrectionSerializer,
    PoemInputSerializer,
    PoemSerializer,
    SkinCheckCorrectionSerializer,
    SkinCheckInputSerializer,
    SkinCheckSerializer,
    SymptomCorrectionSerializer,
    SymptomInputSerializer,
    SymptomSerializer,
    skin_check_advice,
)
from tracking.serializers.regimens import (
    RegimenCreateSerializer,
    RegimenSerializer,
    RegimenStepDownSerializer,
    RegimenUpdateSerializer,
)
from tracking.serializers.sync import SyncBatchSerializer, SyncItemResultSerializer, SyncResponseSerializer

__all__ = [
    "ADHERENCE_EARLIEST",
    "ADHERENCE_LATEST",
    "CALENDAR_FIRST",
    "CALENDAR_LAST",
    "EARLIEST_RECORD_TIME",
    "TIME_OF_DAY",
    "AdherenceDaySerializer",
    "AdherenceQuerySerializer",
    "AdherenceSerializer",
    "ApplicationCorrectionSerializer",
    "ApplicationInputSerializer",
    "ApplicationSerializer",
    "AwareDateTimeField",
    "FtuAmountField",
    "LogFilterSerializer",
    "LogSerializer",
    "PoemCorrectionSerializer",
    "PoemInputSerializer",
    "PoemSerializer",
    "RegimenCreateSerializer",
    "RegimenSerializer",
    "RegimenStepDownSerializer",
    "RegimenUpdateSerializer",
    "SkinCheckCorrectionSerializer",
    "SkinCheckInputSerializer",
    "SkinCheckSerializer",
    "SymptomCorrectionSerializer",
    "SymptomInputSerializer",
    "SymptomSerializer",
    "SyncBatchSerializer",
    "SyncItemResultSerializer",
    "SyncResponseSerializer",
    "TimeOfDayField",
    "body_areas_field",
    "log_time_field",
    "nrs_field",
    "rfc3339",
    "score_field",
    "skin_check_advice",
    "times_field",
]
