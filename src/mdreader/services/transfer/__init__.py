"""Export of a workspace as a zip of Markdown files, and import of Markdown files and zips."""

from mdreader.services.transfer.imports import *  # noqa: F403  (split by concept next)
