"""Fill in an admin change form the way a browser would: every field as the page shows it, then changes."""

from __future__ import annotations

import datetime
from typing import Any

from django.forms import BaseForm, MultiWidget
from django.test import Client


def _as_post(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [str(getattr(item, "pk", item)) for item in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return "" if value is None else str(getattr(value, "pk", value))


def _form_fields(form: BaseForm, data: dict[str, Any]) -> None:
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        key = form.add_prefix(name)
        if isinstance(value, bool):
            if value:
                data[key] = "on"
        elif isinstance(field.widget, MultiWidget):
            # A split field (the admin's date and time boxes) posts one value per box: key_0, key_1, ...
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{key}_{index}"] = _as_post(part)
        else:
            data[key] = _as_post(value)


def change_form_data(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """What the admin page at `url` would post unchanged (its inlines too), with `changes` on top."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    data: dict[str, Any] = {}
    _form_fields(response.context["adminform"].form, data)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        _form_fields(formset.management_form, data)
        for form in formset.forms:
            _form_fields(form, data)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)  # an unticked checkbox is not sent at all
        else:
            data[name] = value
    return data
