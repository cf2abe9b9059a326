from mdreader.db.engine import Database, migrate
from mdreader.db.models import Base

__all__ = ["Base", "Database", "migrate"]
