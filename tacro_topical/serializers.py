"""Serializer building blocks shared by every app: error messages that say what is allowed.

Text a person types goes through one rule, `PersonTextValidator`: one line for names and codes
(`SingleLineTextField`), line breaks and tabs allowed in notes (`MultiLineTextField`), and no other
control character in either. tests/test_text_input.py walks every request body in the schema, so a
new text field that misses the rule fails there.
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from rest_framework import serializers

# --- Text a person types ---------------------------------------------------------------------------

# What a text area sends for line breaks and indentation. A note may hold them; a name may not: a name
# goes into e-mail subjects ("Noah: time for ..."), where a line break starts a new header.
NOTE_LINE_BREAKS_AND_TABS = frozenset("\t\n\r")
# Characters that reorder the text after them (embeddings, overrides, isolates and their pops). No
# keyboard types them, and they can make a name or a note read differently on a clinician's screen
# ("Trojan Source", CVE-2021-42574). The marks LRM, RLM and ALM stay allowed: they reorder nothing
# beyond themselves, and right-to-left writers do type them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# C0 and C1 controls (Cc, with DEL and NEL), and the line and paragraph separators, which split a line
# for JavaScript, log readers and Django 6's e-mail headers alike.
REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _described(character: str) -> str:
    code = f"U+{ord(character):04X}"
    if character in LINE_BREAKS:
        return f"{code} (a line break)"
    if character == "\t":
        return f"{code} (a tab)"
    if character in BIDI_CONTROLS:
        return f"{code} ({unicodedata.name(character).lower()})"
    return f"{code} (a control character)"


@deconstructible
class PersonTextValidator:
    """Refuses control characters in text a person types; `multiline` admits a note's line breaks and tabs.

    A Django validator, so the same rule can guard a model field or an admin form; DRF reports it under
    the field's name. Says which character, where, and what the field takes.
    """

    code = "control_character"

    def __init__(self, *, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, value: object) -> None:
        if not isinstance(value, str):
            return
        for position, character in enumerate(value, start=1):
            if self.multiline and character in NOTE_LINE_BREAKS_AND_TABS:
                continue
            if unicodedata.category(character) in REFUSED_CATEGORIES or character in BIDI_CONTROLS:
                allowed = (
                    "text with line breaks and tabs, but no other control characters"
                    if self.multiline
                    else "one line of text, without line breaks, tabs or other control characters"
                )
                raise DjangoValidationError(
                    f"Remove {_described(character)} at character {position}: this field takes {allowed}.",
                    code=self.code,
                )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PersonTextValidator) and other.multiline == self.multiline

    def __hash__(self) -> int:
        return hash((type(self), self.multiline))


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
        self.error_messages["invalid_choice"] = f'"{{input}}" is not allowed. Allowed values: {allowed}.'


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
            raise serializers.ValidationError(f"Give a date from {self.earliest:%Y-%m-%d} to {latest:%Y-%m-%d}.")
        return day
