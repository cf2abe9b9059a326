"""Export of a workspace as a zip of Markdown files, and import of Markdown files and zips.

- ``export``: a workspace's tree as ``Title.md`` files and folders, with its attachments;
- ``archives``: what an import reads (an upload, a zip), checked before anything is written;
- ``imports``: the files of an import made into documents, all or nothing;
- ``layout``: what both sides share: file names, links, the titles file, attachments.
"""

from mdreader.services.transfer.archives import ImportFile, read_path, read_upload, read_zip
from mdreader.services.transfer.export import export_workspace, spooled_export
from mdreader.services.transfer.imports import import_files
from mdreader.services.transfer.layout import (
    FILE_LINK,
    Attachments,
    rewrite_links,
    safe_name,
)

__all__ = [
    "FILE_LINK",
    "Attachments",
    "ImportFile",
    "export_workspace",
    "import_files",
    "read_path",
    "read_upload",
    "read_zip",
    "rewrite_links",
    "safe_name",
    "spooled_export",
]
