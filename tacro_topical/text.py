"""Text a person types: one rule, for serializers, model fields and admin forms alike.

A name is one line; a note may hold line breaks and tabs; neither takes any other control character.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext

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
        return gettext("{code} (a line break)").format(code=code)
    if character == "\t":
        return gettext("{code} (a tab)").format(code=code)
    if character in BIDI_CONTROLS:
        return f"{code} ({unicodedata.name(character).lower()})"
    return gettext("{code} (a control character)").format(code=code)


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
                    gettext("text with line breaks and tabs, but no other control characters")
                    if self.multiline
                    else gettext("one line of text, without line breaks, tabs or other control characters")
                )
                raise DjangoValidationError(
                    gettext("Remove {character} at character {position}: this field takes {allowed}.").format(
                        character=_described(character), position=position, allowed=allowed
                    ),
                    code=self.code,
                )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PersonTextValidator) and other.multiline == self.multiline

    def __hash__(self) -> int:
        return hash((type(self), self.multiline))
