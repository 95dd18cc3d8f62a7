"""Serializer building blocks shared by every app: error messages that say what is allowed."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class ExplainedChoiceField(serializers.ChoiceField):
    """A choice field whose 400 lists the allowed values, so a client developer can act on it."""

    def __init__(self, choices: Any, **kwargs: Any) -> None:
        super().__init__(choices, **kwargs)
        allowed = ", ".join(str(key) for key in self.choices)
        self.error_messages["invalid_choice"] = f'"{{input}}" is not allowed. Allowed values: {allowed}.'


class ModelSerializer(serializers.ModelSerializer):
    """Project base: model choice fields explain what is allowed."""

    serializer_choice_field = ExplainedChoiceField


class RejectUnknownFields:
    """Mixin for input serializers: a field we do not take is a 400, not silently dropped.

    A client that misspells `flare_severity` must hear so, not lose the score.
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        initial = getattr(self, "initial_data", None)
        if isinstance(initial, dict):
            unknown = sorted(set(initial) - set(self.fields))  # type: ignore[attr-defined]
            if unknown:
                raise serializers.ValidationError(
                    dict.fromkeys(unknown, "Unknown or read-only field; it cannot be set here.")
                )
        return super().validate(attrs)  # type: ignore[misc]
