"""Fixtures for the accounts tests: e-mails sent as they would be after a real commit."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import pytest


@pytest.fixture
def sending(eager_tasks: None, django_capture_on_commit_callbacks: Any) -> Callable[[], AbstractContextManager[Any]]:
    """`with sending(): ...`: what commits inside runs its on-commit work, and tasks run in place, so the
    e-mails a request hands to a worker land in django.core.mail.outbox."""
    return partial(django_capture_on_commit_callbacks, execute=True)
