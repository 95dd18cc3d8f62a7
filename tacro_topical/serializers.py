"""Serializer building blocks shared by every app: error messages that say what is allowed.

Text a person types goes through one rule, `PersonTextValidator`: one line for names and codes
(`SingleLineTextField`), line breaks and tabs allowed in notes (`MultiLineTextField`), and no other
control character in either. tests/test_text_input.py walks every request body in the schema, so a
new text field that misses the rule fails there.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from rest_framework import serializers

from tacro_topical.text import PersonTextValidator

# --- Text a person types: the rule lives in tacro_topical/text.py (models use it too) ----------------


def _with_person_text_rule(field: serializers.CharField, *, multiline: bool) -> None:
    # Ours refuses NUL too, with a message that says where: DRF's own NUL check would only repeat it.
    field.validators = [
        validator for validator in field.validators if not isinstance(validator, ProhibitNullCharactersValidator)
    ]
    field.validators.append(PersonTextValidator(multiline=multiline))


class SingleLineTextField(serializers.CharField):
    """One line a person types (a name, a code): no line breaks, tabs or other control characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _with_person_text_rule(self, multiline=False)


class MultiLineTextField(serializers.CharField):
    """Text a person types over several lines (a note): line breaks and tabs, no other control characters."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("style", {"base_template": "textarea.html"})
        super().__init__(**kwargs)
        _with_person_text_rule(self, multiline=True)


class ExplainedChoiceField(serializers.ChoiceField):
    """A choice field whose 400 lists the allowed values, so a client developer can act on it."""

    def __init__(self, choices: Any, **kwargs: Any) -> None:
        super().__init__(choices, **kwargs)
        allowed = ", ".join(str(key) for key in self.choices)
        # Lazy, in the asker's language; `{input}` stays a placeholder for DRF's fail() to fill.
        self.error_messages["invalid_choice"] = format_lazy(
            gettext_lazy('"{input}" is not allowed. Allowed values: {allowed}.'), input="{input}", allowed=allowed
        )


class ModelSerializer(serializers.ModelSerializer):
    """Project base: model choice fields explain what is allowed, and model text fields take the person-text rule."""

    serializer_choice_field = ExplainedChoiceField
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: SingleLineTextField,
        models.TextField: MultiLineTextField,
    }


class RejectUnknownFields:
    """Mixin for input serializers: a field we do not take is a 400, not silently dropped.

    A client that misspells `flare_severity` must hear so, not lose the score. Unknown fields are
    named together with every other offending field, in one answer. `unknown_field_messages` can
    say more about a known name that is not taken here (a field fixed once created, say).
    """

    unknown_field_messages: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, Any] = {}
        if isinstance(data, dict):
            unknown = {
                name: [self.unknown_field_messages.get(name, "Unknown or read-only field; it cannot be set here.")]
                for name in sorted(set(data) - set(self.fields))  # type: ignore[attr-defined]
            }
        return validated_together(unknown, super().to_internal_value, data)  # type: ignore[misc]


def validated_together(problems: dict[str, list[str]], validate: Callable[[Any], Any], data: Any) -> Any:
    """`validate(data)` (DRF's field validation), with `problems` found beside it named in the same 400.

    DRF stops at field errors before anything else runs; a person fixing a form should see every
    problem at once, not meet them one at a time.
    """
    try:
        value = validate(data)
    except serializers.ValidationError as error:
        if problems and isinstance(error.detail, dict):
            raise serializers.ValidationError({**problems, **error.detail}) from error
        raise
    if problems:
        raise serializers.ValidationError(problems)
    return value


class StrictUUIDField(serializers.UUIDField):
    """A UUID sent as a JSON string, nothing else.

    DRF's UUIDField also reads a JSON integer (and so `true`) as UUID(int=n): a client bug would
    store ids like 00000000-0000-0000-0000-000000000001, which the next patient's bug then collides with.
    """

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class BoundedDateField(serializers.DateField):
    """A date within plausible bounds: from `earliest` to `latest_ahead` after today (UTC), both included.

    The bounds are product limits (tracking/rules.py), so that a wrong date picker is a 400, not stored.
    """

    def __init__(
        self, *, earliest: datetime.date, latest_ahead: datetime.timedelta = datetime.timedelta(0), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.earliest = earliest
        self.latest_ahead = latest_ahead

    def to_internal_value(self, value: Any) -> datetime.date:
        day = super().to_internal_value(value)
        latest = timezone.now().date() + self.latest_ahead
        if not self.earliest <= day <= latest:
            raise serializers.ValidationError(
                gettext("Give a date from {earliest} to {latest}.").format(
                    earliest=f"{self.earliest:%Y-%m-%d}", latest=f"{latest:%Y-%m-%d}"
                )
            )
        return day
