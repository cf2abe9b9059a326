"""What the parts of a backup share: its errors and its progress callback."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as work advances (total 0 when unknown)."""


def no_progress(stage: str, done: int, total: int) -> None:
    pass


class BackupError(Exception):
    """A backup or restore that cannot go on, with a sentence for the operator."""
