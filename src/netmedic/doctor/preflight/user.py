"""Calling the user's callables: their exceptions are shown as theirs (CLI exit 3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netmedic.errors import UserCodeError


def call_user(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """``fn(*args)``; an exception becomes :class:`UserCodeError` naming ``what`` was called."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - anything the user's code raises is theirs
        raise UserCodeError(f"your {what} raised {type(exc).__name__}: {exc}") from exc
