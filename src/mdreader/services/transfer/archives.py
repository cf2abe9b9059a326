"""What an import reads: an uploaded ``.md`` file or ``.zip``, checked entry by entry
(paths, sizes, counts, compression ratio) before anything is written."""

from __future__ import annotations

import io
import posixpath
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mdreader.errors import AppError
from mdreader.services.transfer.layout import MARKDOWN_SUFFIXES

if TYPE_CHECKING:
    from mdreader.settings import Settings


@dataclass(frozen=True, slots=True)
class ImportFile:
    path: str  # relative, "/"-separated, checked
    data: bytes


def bad_import(detail: str) -> AppError:
    return AppError(400, detail, "bad_archive")


def check_path(name: str) -> str | None:
    """The entry's safe relative path, None for entries to ignore, 400 for hostile ones."""
    path = name.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise bad_import(f"The archive holds an absolute path ({name!r}); paths must be relative.")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if parts and re.match(r"^[A-Za-z]:", parts[0]):
        raise bad_import(f"The archive holds an absolute path ({name!r}); paths must be relative.")
    if ".." in parts:
        raise bad_import(f"The archive holds a path leaving its folder ({name!r}).")
    if not parts or path.endswith("/"):
        return None
    if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return None  # metadata and hidden files: not part of the tree
    if any("\0" in p for p in parts):
        raise bad_import(f"The archive holds an invalid file name ({name!r}).")
    return "/".join(parts)


def read_zip(source: IO[bytes] | bytes, settings: Settings) -> list[ImportFile]:
    """The files of a zip, every entry checked before any is decompressed."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise bad_import("The upload is not a readable zip archive.") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > settings.import_max_files:
            raise AppError(
                413,
                f"The archive holds {len(infos)} entries; at most "
                f"{settings.import_max_files} are accepted.",
                "too_large",
            )
        total = 0
        wanted: list[tuple[zipfile.ZipInfo, str]] = []
        for info in infos:
            path = check_path(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise bad_import(f"The archive holds a symbolic link ({info.filename!r}).")
            if path is None or info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise bad_import(f"The archive entry {info.filename!r} is encrypted.")
            total += info.file_size
            if total > settings.import_max_uncompressed_bytes:
                raise AppError(
                    413,
                    f"The archive unpacks to more than {settings.import_max_uncompressed_bytes}"
                    " bytes.",
                    "too_large",
                )
            if info.file_size > 1024 and (
                info.file_size > settings.import_max_ratio * max(info.compress_size, 1)
            ):
                raise AppError(
                    413,
                    f"The archive entry {info.filename!r} is compressed more than "
                    f"{settings.import_max_ratio:g} to 1, which is refused as a zip bomb.",
                    "too_large",
                )
            wanted.append((info, path))
        files = []
        for info, path in wanted:
            try:
                with zf.open(info) as entry:
                    # Never trust the declared size: read at most one byte more than it.
                    data = entry.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError, EOFError):
                raise bad_import(f"The archive entry {info.filename!r} cannot be read.") from None
            if len(data) > info.file_size:
                raise bad_import(f"The archive entry {info.filename!r} is larger than it says.")
            files.append(ImportFile(path, data))
    return files


def read_upload(name: str, source: IO[bytes], settings: Settings) -> list[ImportFile]:
    """One uploaded file: a zip is unpacked, a Markdown file is taken as it is."""
    base = posixpath.basename((name or "").replace("\\", "/"))
    head = source.read(4)
    source.seek(0)
    if base.lower().endswith(".zip") or head == b"PK\x03\x04":
        return read_zip(source, settings)
    if not base.lower().endswith(MARKDOWN_SUFFIXES):
        raise AppError(
            415, f"{base or 'The upload'} is neither a Markdown file nor a zip.", "bad_type"
        )
    checked = check_path(base)
    if checked is None:
        raise bad_import(f"{base!r} is not a usable file name.")
    data = source.read(settings.max_document_bytes + 1)
    return [ImportFile(checked, data)]


def read_path(path: str, settings: Settings) -> list[ImportFile]:
    """The files to import from a Markdown file, a zip, or a folder (the command line; walked,
    symlinks and hidden files left out, under the same limits as an upload)."""
    root = Path(path)
    if root.is_file():
        if root.stat().st_size > settings.max_upload_bytes:
            raise AppError(413, f"{root} is larger than {settings.max_upload_bytes} bytes.")
        with root.open("rb") as source:
            return read_upload(root.name, source, settings)
    if not root.is_dir():
        raise AppError(422, f"{path} is neither a file nor a folder.")
    files: list[ImportFile] = []
    total = 0
    for item in sorted(root.rglob("*")):
        relative = item.relative_to(root)
        if item.is_symlink() or any(part.startswith(".") for part in relative.parts):
            continue
        if not item.is_file():
            continue
        total += item.stat().st_size
        if len(files) >= settings.import_max_files or total > (
            settings.import_max_uncompressed_bytes
        ):
            raise AppError(413, f"{root} holds more than an import accepts.")
        files.append(ImportFile(relative.as_posix(), item.read_bytes()))
    return files
