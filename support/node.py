"""Node packages the tests and benchmarks drive (Yjs clients, the OpenID provider, the web app)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def npm_ci(folder: Path, timeout: float = 300) -> str | None:
    """Install ``folder``'s Node packages from its lock file (npm ci) when they are missing or
    older than the lock; return an error sentence when that cannot be done."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return f"node and npm are needed to install {folder.name}"
    marker = folder / "node_modules" / ".package-lock.json"
    lock = folder / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            return f"npm ci failed: {result.stderr[-2000:]}"
    return None
