from mdreader.db.engine import Database
from mdreader.db.migrations import migrate
from mdreader.db.models import Base

__all__ = ["Base", "Database", "migrate"]
