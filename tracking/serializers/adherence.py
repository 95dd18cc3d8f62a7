"""Adherence shapes: the local dates asked for, and the report per date with the streak."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from rest_framework import serializers

from accounts.models import Patient
from tracking import rules

# A month inside the calendar's ends: every zone's day around these dates, and the 28-day default
# before them, stay representable (a date in year 1 or 9999 must be a 400, not a 500).
ADHERENCE_EARLIEST = datetime.date(1, 2, 1)
ADHERENCE_LATEST = datetime.date(9999, 11, 30)
# Without `from`: the default span of rules.ADHERENCE_DEFAULT_DAYS local days, `to` included.
DEFAULT_DAYS_BEFORE = datetime.timedelta(days=rules.ADHERENCE_DEFAULT_DAYS - 1)
ADHERENCE_RANGE_MESSAGE = format_lazy(
    gettext_lazy("Give a date from {earliest} to {latest}."), earliest=ADHERENCE_EARLIEST, latest=ADHERENCE_LATEST
)


class AdherenceQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword: the field is declared under it through the fields dict below.
    to = serializers.DateField(required=False, help_text="Last local date, included; default today.")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(
            required=False, help_text=f"First local date; default {DEFAULT_DAYS_BEFORE.days} days before to."
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        patient: Patient = self.context["patient"]
        outside = [
            name
            for name in ("from", "to")
            if name in attrs and not ADHERENCE_EARLIEST <= attrs[name] <= ADHERENCE_LATEST
        ]
        if outside:
            raise serializers.ValidationError(dict.fromkeys(outside, ADHERENCE_RANGE_MESSAGE))
        last = attrs.get("to") or patient.local_today()
        first = attrs.get("from") or last - DEFAULT_DAYS_BEFORE
        if first > last:
            raise serializers.ValidationError({"from": gettext("from must not be after to.")})
        if (last - first).days + 1 > rules.MAX_ADHERENCE_DAYS:
            raise serializers.ValidationError(
                {
                    "from": gettext("At most {days} days per request; ask for a shorter range.").format(
                        days=rules.MAX_ADHERENCE_DAYS
                    )
                }
            )
        return {"first": first, "last": last}


class AdherenceDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    expected = serializers.IntegerField()
    logged = serializers.IntegerField()


class AdherenceSerializer(serializers.Serializer):
    to = serializers.DateField(source="last")
    expected_doses = serializers.IntegerField()
    logged_doses = serializers.IntegerField()
    adherence_pct = serializers.FloatField(allow_null=True, help_text="Null when no dose was due.")
    current_streak_days = serializers.IntegerField(help_text="Fully adherent days in a row, up to today.")
    days = AdherenceDaySerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields = {"from": serializers.DateField(source="first"), **fields}
        return fields
