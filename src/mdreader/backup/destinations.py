"""Where archives are kept (a folder or ``s3://bucket/prefix``), how they are named, and
which older ones a backup prunes (every one of the last 30 days, then one a week to 90)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from mdreader.backup.base import BackupError

NAME = re.compile(r"^mdreader-(\d{8}T\d{6}Z)\.tar\.gz$")


class Destination(Protocol):
    def names(self) -> list[str]: ...

    def upload(self, local: Path, name: str) -> None: ...

    def download(self, name: str, local: Path) -> None: ...

    def delete(self, name: str) -> None: ...

    def describe(self, name: str) -> str: ...


@dataclass
class FolderDestination:
    root: Path

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_file())

    def upload(self, local: Path, name: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{name}.partial"
        shutil.copyfile(local, partial)
        partial.replace(self.root / name)  # never a half-written archive under its name

    def download(self, name: str, local: Path) -> None:
        shutil.copyfile(self.root / name, local)

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def describe(self, name: str) -> str:
        return str(self.root / name)


@dataclass
class S3Destination:
    bucket: str
    prefix: str
    client: Any

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def names(self) -> list[str]:
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                rest = item["Key"][len(self.prefix) :]
                if "/" not in rest:
                    found.append(rest)
        return sorted(found)

    def upload(self, local: Path, name: str) -> None:
        self.client.upload_file(str(local), self.bucket, self._key(name))

    def download(self, name: str, local: Path) -> None:
        self.client.download_file(self.bucket, self._key(name), str(local))

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def describe(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}"


def destination(where: str, s3_client: Callable[[], Any]) -> Destination:
    """A folder path, or ``s3://bucket/prefix`` (``s3_client()`` makes the boto3 client)."""
    if where.startswith("s3://"):
        bucket, _, prefix = where[5:].partition("/")
        if not bucket:
            raise BackupError(f"{where} names no bucket: use s3://bucket/prefix.")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return S3Destination(bucket, prefix, s3_client())
    return FolderDestination(Path(where))


def archive_name(when: datetime) -> str:
    return f"mdreader-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def archive_time(name: str) -> datetime | None:
    match = NAME.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def expired(names: Iterable[str], now: datetime, daily: int = 30, weekly: int = 90) -> list[str]:
    """The archives retention lets go: every archive younger than ``daily`` days is kept,
    then the newest archive of each ISO week until ``weekly`` days, then none. Names that are
    not MDReader archives are never touched, and the newest archive is always kept."""
    dated = sorted(
        ((when, name) for name in names if (when := archive_time(name)) is not None),
        reverse=True,
    )
    if not dated:
        return []
    keep = {dated[0][1]}
    weeks_seen: set[tuple[int, int]] = set()
    for when, name in dated:  # newest first
        age = now - when
        if age < timedelta(days=daily):
            keep.add(name)
        elif age < timedelta(days=weekly):
            week = when.isocalendar()[:2]
            if week not in weeks_seen:
                weeks_seen.add(week)
                keep.add(name)
    return [name for _, name in dated if name not in keep]


def latest(source: Destination) -> str:
    names = [n for n in source.names() if archive_time(n) is not None]
    if not names:
        raise BackupError("No MDReader backup archive was found there.")
    return max(names, key=lambda n: archive_time(n) or datetime.min.replace(tzinfo=UTC))
