"""Exceptions and warnings raised by pytest-visionguard.

This module imports nothing heavy, so the plugin can load it at start-up.
"""

from __future__ import annotations

from typing import Any


class VisionGuardError(Exception):
    """A usage error: bad input, a bad option or a missing fixture.

    The plugin shows it as a short message without a deep traceback, because
    the fix is in the user's data, model or configuration, not in this
    package. Every message names the offending value and what to do.
    """


class GateFailure(AssertionError):
    """A deployment gate failed.

    Attributes:
        result: the `GateResult` with the per-group figures, or None when the
            failure was raised without one.
    """

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class VisionGuardWarning(UserWarning):
    """An actionable problem that does not fail a test by itself."""
