"""The Arabic translations: the committed .mo is the compiled .po, every text the code marks for translation
has its Arabic there, and every account e-mail is all Arabic.

Neither `make run` nor CI has GNU gettext, so the compiled catalogue is committed beside its source; these
tests fail when one is changed without the other, or when an e-mail gains words nobody translated.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from accounts.emails import SUBJECTS, AccountEmail, _links
from accounts.models import Language, User

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "ar" / "LC_MESSAGES"
# The project's code (migrations aside: they freeze no wording a person reads).
CODE = ("accounts", "tracking", "tacro_topical")
MARKERS = {"gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy"}


def po_entries(path: Path) -> dict[str | tuple[str, int], str]:
    """A .po file's translations, keyed as Python's gettext keys a compiled catalogue: msgid (with its
    msgctxt before it), or (msgid, n) for each plural form. Fuzzy entries are left out, as msgfmt leaves them out."""
    entries: dict[str | tuple[str, int], str] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        if not lines or "#, fuzzy" in block:
            continue
        fields: dict[str, str] = {}
        current = ""
        for line in lines:
            if line.startswith('"'):
                fields[current] += ast.literal_eval(line)
            else:
                current, _, value = line.partition(" ")
                fields[current] = ast.literal_eval(value)
        msgid = fields["msgid"]
        if not msgid:
            continue  # the header
        if "msgctxt" in fields:  # pgettext's entries: the catalogue keys them "context\x04msgid"
            msgid = f"{fields['msgctxt']}\x04{msgid}"
        if "msgid_plural" in fields:
            for name, value in fields.items():
                if name.startswith("msgstr["):
                    entries[(msgid, int(name[7:-1]))] = value
        else:
            entries[msgid] = fields["msgstr"]
    return entries


def test_the_compiled_catalogue_is_the_po_file_compiled() -> None:
    source = po_entries(CATALOGUE / "django.po")
    with (CATALOGUE / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)

    translated = {key: value for key, value in catalogue._catalog.items() if key != ""}  # type: ignore[attr-defined]
    assert translated == source
    assert all(source.values()), [key for key, value in source.items() if not value]
    assert catalogue.info()["plural-forms"].startswith("nplurals=6;")


def marked_in_code() -> dict[str | tuple[str, int], str]:
    """Each msgid the Python code hands gettext and its kin as a literal, keyed as po_entries keys it, with where."""
    marked: dict[str | tuple[str, int], str] = {}
    for root in CODE:
        for path in sorted((Path(settings.BASE_DIR) / root).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                texts = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
                if name not in MARKERS or not texts:
                    continue
                if name.startswith("p") and len(texts) >= 2:  # pgettext(context, message)
                    marked[f"{texts[0]}\x04{texts[1]}"] = f"{path.name}:{node.lineno}"
                elif name.startswith("n"):  # ngettext(singular, plural, n): the catalogue keys each form
                    marked[(texts[0], 0)] = f"{path.name}:{node.lineno}"
                elif not name.startswith("p"):
                    marked[texts[0]] = f"{path.name}:{node.lineno}"
    return marked


def test_every_text_the_code_marks_for_translation_has_its_arabic() -> None:
    """An API message (or reminder, or e-mail subject) wrapped in gettext but missing from locale/ar would
    reach an Arabic speaker in English: the .po is edited by hand, so this is where a forgotten entry shows."""
    source = po_entries(CATALOGUE / "django.po")
    marked = marked_in_code()

    missing = {msgid: where for msgid, where in marked.items() if not source.get(msgid)}

    assert len(marked) > 100  # the scan finds the code's messages (136 when written)
    assert not missing, missing


def test_the_languages_offered_are_the_languages_an_account_can_have() -> None:
    assert [code for code, _name in settings.LANGUAGES] == [code for code, _name in Language.choices]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(AccountEmail))
@pytest.mark.parametrize("first_name", ["ليلى", ""])
def test_every_account_e_mail_is_wholly_arabic_for_an_arabic_speaker(kind: AccountEmail, first_name: str) -> None:
    user = User.objects.create_user("layla@test.example", "a-passphrase-of-hers", first_name=first_name)
    with translation.override(Language.ARABIC):
        context = {"user": user, **_links(kind, user)}
        parts = [
            str(SUBJECTS[kind]),
            render_to_string(f"accounts/email/{kind}.txt", context),
            render_to_string(f"accounts/email/{kind}.html", context),
        ]

    for part in parts:
        without_markup = re.sub(r"https?://\S+|<[^>]*>|&\w+;", " ", part)
        assert not re.findall(r"[A-Za-z]{2,}", without_markup), part
        assert re.search(r"[\u0600-\u06FF]{3,}", part), part
