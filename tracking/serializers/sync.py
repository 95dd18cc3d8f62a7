"""Sync shapes: a batch of logs written offline, by type, and a status per item."""

from __future__ import annotations

from rest_framework import serializers

from tracking.serializers.logs import (
    ApplicationInputSerializer,
    PoemInputSerializer,
    SkinCheckInputSerializer,
    SymptomInputSerializer,
)
from tracking.services import Outcome


class SyncItemResultSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True, help_text="The item's id as sent (null when it had none).")
    status = serializers.ChoiceField(choices=[outcome.value for outcome in Outcome])
    errors = serializers.DictField(  # type: ignore[assignment]  # a field here, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For an invalid item: each offending field by its path within the item (`body_areas[1]`), "
        "with what is wrong and what is allowed. For a conflict: `detail`.",
    )
    advice = serializers.CharField(
        required=False,
        help_text="For a skin check reporting an urgent sign (created or duplicate): what the patient should do "
        "now, in the caller's language, as the skin-check route answers it. Show it at once.",
    )


class SyncBatchSerializer(serializers.Serializer):
    """Logs written offline, by type; any key may be left out. Each item is checked and stored on its own."""

    applications = ApplicationInputSerializer(many=True, required=False)
    symptoms = SymptomInputSerializer(many=True, required=False)
    poem = PoemInputSerializer(many=True, required=False)
    skin_checks = SkinCheckInputSerializer(many=True, required=False)


class SyncResponseSerializer(serializers.Serializer):
    applications = SyncItemResultSerializer(many=True, required=False)
    symptoms = SyncItemResultSerializer(many=True, required=False)
    poem = SyncItemResultSerializer(many=True, required=False)
    skin_checks = SyncItemResultSerializer(many=True, required=False)
