"""The field types every tracking shape shares: times with an offset in and the patient's zone out,
times of day, body areas and scores. Shape and ranges only; rules live in services.

Every error names its field and says what is allowed. Times come in with an offset and go out in
the patient's own zone (the `clock` in the serializer context).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tacro_topical.serializers import ExplainedChoiceField
from tracking import rules

# [0-9], not \d: Python's \d also takes other scripts' digits ("0٣:00"), which datetime.time cannot read.
TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


CALENDAR_FIRST = datetime.datetime.min.replace(tzinfo=datetime.UTC) + datetime.timedelta(days=1)
CALENDAR_LAST = datetime.datetime.max.replace(tzinfo=datetime.UTC) - datetime.timedelta(days=1)


def rfc3339(moment: datetime.datetime) -> str:
    """ISO 8601 with the offset in whole minutes, as RFC 3339 (and so OpenAPI's date-time) requires.

    Before standard time, zones ran on local mean time with offsets in seconds (Asia/Qatar was
    +03:26:08 until 1920); such a moment is given in UTC, which names the same instant.
    """
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        moment = moment.astimezone(datetime.UTC)
    return moment.isoformat()


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset in, stored as UTC; out in the patient's zone at that moment.

    A naive time is a 400: the server cannot know which wall clock it was read from.
    """

    def __init__(
        self,
        *,
        future_tolerance: datetime.timedelta | None = None,
        earliest: datetime.datetime = CALENDAR_FIRST,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("help_text", "ISO 8601 with its UTC offset, e.g. 2026-11-21T08:05:00+03:00.")
        super().__init__(**kwargs)
        self.future_tolerance = future_tolerance
        self.earliest = earliest

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(value):
            raise serializers.ValidationError(
                gettext(
                    "Give the time with its UTC offset, e.g. 2026-11-21T08:05:00+03:00; "
                    "a time without one is ambiguous."
                )
            )
        try:
            moment = value.astimezone(datetime.UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable instant
            moment = None
        # Within the field's bounds, and a day inside the calendar's ends, so the time can be echoed
        # in any zone (not a 500).
        if moment is None or not self.earliest <= moment <= CALENDAR_LAST:
            raise serializers.ValidationError(
                gettext("This time is outside what can be recorded; give one from {earliest} to {latest}.").format(
                    earliest=self.earliest.date().isoformat(), latest=CALENDAR_LAST.date().isoformat()
                )
            )
        return moment

    def to_internal_value(self, value: Any) -> datetime.datetime:
        moment = super().to_internal_value(value)
        if self.future_tolerance is not None:
            latest = timezone.now() + self.future_tolerance
            if moment > latest:
                minutes = int(self.future_tolerance.total_seconds() // 60)
                raise serializers.ValidationError(
                    gettext(
                        "This time is in the future. Log what has happened: at most {minutes} minutes ahead "
                        "of the server's clock is accepted."
                    ).format(minutes=minutes)
                )
        return moment

    def to_representation(self, value: datetime.datetime) -> str:
        clock = self.context.get("clock")
        if value is None or clock is None:
            return super().to_representation(value)
        return rfc3339(clock.local(value))


EARLIEST_RECORD_TIME = datetime.datetime.combine(rules.EARLIEST_RECORD_DATE, datetime.time.min, tzinfo=datetime.UTC)


def log_time_field(**kwargs: Any) -> AwareDateTimeField:
    return AwareDateTimeField(future_tolerance=rules.LOG_FUTURE_TOLERANCE, earliest=EARLIEST_RECORD_TIME, **kwargs)


@extend_schema_field({"type": "string", "pattern": TIME_OF_DAY.pattern, "example": "08:00"})
class TimeOfDayField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", 'A local time of day, "HH:MM" (24-hour).')
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not TIME_OF_DAY.match(value):
            raise serializers.ValidationError(
                gettext('"{value}" is not a time of day; use "HH:MM" from 00:00 to 23:59.').format(value=value)
            )
        return value


def body_areas_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=ExplainedChoiceField(choices=rules.BODY_AREAS), help_text="Area codes (see API.md).", **kwargs
    )


def times_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=TimeOfDayField(), help_text='Local times of day, "HH:MM", in the patient\'s time zone.', **kwargs
    )


def score_field(minimum: int, maximum: int, message: str | Promise, **kwargs: Any) -> serializers.IntegerField:
    errors: dict[str, Any] = {"min_value": message, "max_value": message, "invalid": message}
    return serializers.IntegerField(min_value=minimum, max_value=maximum, error_messages=errors, **kwargs)


NRS_HELP = (
    f"Numeric rating scale {rules.NRS_MIN}-{rules.NRS_MAX}: {rules.NRS_MIN} none, {rules.NRS_MAX} worst imaginable."
)


def nrs_field(name: str | Promise) -> serializers.IntegerField:
    message = format_lazy(
        gettext_lazy("{name} is a whole number from {min} to {max}."), name=name, min=rules.NRS_MIN, max=rules.NRS_MAX
    )
    return score_field(rules.NRS_MIN, rules.NRS_MAX, message, required=False, allow_null=True, help_text=NRS_HELP)
