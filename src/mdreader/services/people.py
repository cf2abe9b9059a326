"""Who acts, as the services need to know them: a signed-in caller's principal
(``mdreader.access.identity.Principal``) or a stored user, seen through their id and name."""

from __future__ import annotations

import uuid
from typing import Protocol


class Person(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def name(self) -> str: ...
