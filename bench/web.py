"""bench/web: the web app's weight and speed, each beside a reference measured in the same run.

1. JavaScript (gzip) a browser loads for the editor route (`/w/{id}/d/{id}`): the entry chunk,
   the editor's lazy chunk, and everything they import statically, read from Vite's manifest;
   beside a bare Vite + React page built with the same toolchain.
2. Time to open a 1 MB document in Debian's Chromium until the live document is synced over
   /ws and its preview rendered; beside the same for a 1 KB document.

Usage: python -m bench.web [--runs 3]   (builds web/ when needed; needs node and chromium)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from tests.web.harness import CHROMIUM, WEB, prepare_web, web_server

PASSWORD = "Bench-pass-1"
EMAIL = "bench-web@example.com"


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def route_chunks(dist: Path, entry_src: str, lazy_src: str) -> set[str]:
    """Files of the entry and of one lazily imported module, with their static imports."""
    manifest = json.loads((dist / ".vite" / "manifest.json").read_text())
    out: set[str] = set()

    def walk(key: str) -> None:
        item = manifest[key]
        if item["file"] in out:
            return
        out.add(item["file"])
        for dep in item.get("imports", []):
            walk(dep)

    walk(entry_src)
    walk(lazy_src)
    return {f for f in out if f.endswith(".js")}


def editor_route_bytes() -> tuple[int, int]:
    dist = WEB / "dist"
    files = route_chunks(dist, "index.html", "src/pages/DocumentPage.tsx")
    return sum(gz(dist / f) for f in files), len(files)


BARE_HTML = '<!doctype html><html><body><div id="root"></div><script type="module" src="./main.js"></script></body></html>\n'
BARE_MAIN = """import { createElement } from "react";
import { createRoot } from "react-dom/client";
createRoot(document.getElementById("root")).render(createElement("h1", null, "Hello"));
"""


def bare_react_bytes() -> int:
    """A bare Vite + React page, built with the web app's own node_modules."""
    root = WEB / ".bench-bare"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    out = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    try:
        (root / "index.html").write_text(BARE_HTML)
        (root / "main.js").write_text(BARE_MAIN)
        subprocess.run(
            [
                "npx",
                "vite",
                "build",
                str(root),
                "--outDir",
                str(out),
                "--emptyOutDir",
                "--logLevel",
                "error",
            ],
            cwd=WEB,
            check=True,
            capture_output=True,
            text=True,
        )
        return sum(gz(p) for p in (out / "assets").glob("*.js"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)


def markdown_of_size(size: int, sentinel: str) -> str:
    """Realistic Markdown (headings, prose, lists, a table, code) of about `size` bytes."""
    parts: list[str] = []
    total = 0
    i = 0
    while total < size - 200:
        i += 1
        block = (
            f"## Section {i}\n\n"
            f"Paragraph {i} with **bold**, *emphasis*, `inline code` and a "
            f"[link](https://example.com/{i}). " + "Lorem ipsum dolor sit amet. " * 6 + "\n\n"
            f"- item one of {i}\n- item two\n  - nested item\n\n"
            f"| key | value |\n|-----|-------|\n| a{i} | {i * 7} |\n| b{i} | {i * 11} |\n\n"
            f"```python\ndef section_{i}(x):\n    return x * {i}\n```\n\n"
        )
        if total + len(block.encode()) > size - 200:
            break
        parts.append(block)
        total += len(block.encode())
    parts.append(f"\n{sentinel}\n")
    text = "".join(parts)
    return text


def open_times(runs: int) -> dict[str, list[int]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    try:
        with web_server(f"sqlite+aiosqlite:///{tmp / 'bench.db'}", None, tmp) as server:
            with httpx.Client(base_url=server.base_url, timeout=60) as c:
                c.post(
                    "/api/auth/register",
                    json={"email": EMAIL, "password": PASSWORD, "name": "Bench"},
                ).raise_for_status()
                token = c.post(
                    "/api/auth/login", json={"email": EMAIL, "password": PASSWORD}
                ).json()["access_token"]
                h = {"Authorization": f"Bearer {token}"}
                wid = c.post("/api/workspaces", json={"name": "Bench"}, headers=h).json()["id"]
                docs = []
                for name, size in (("1 KB", 1_000), ("1 MB", 1_000_000)):
                    sentinel = f"END-OF-DOCUMENT-{size}"
                    content = markdown_of_size(size, sentinel)
                    r = c.post(
                        f"/api/workspaces/{wid}/documents",
                        json={"title": name, "content": content},
                        headers=h,
                    )
                    r.raise_for_status()
                    docs.append(
                        {"name": name, "path": f"/w/{wid}/d/{r.json()['id']}", "sentinel": sentinel}
                    )
            spec = {
                "base": server.base_url,
                "email": EMAIL,
                "password": PASSWORD,
                "runs": runs,
                "docs": docs,
            }
            done = subprocess.run(
                ["node", "scripts/bench-open.mjs", json.dumps(spec)],
                cwd=WEB,
                env={**os.environ, "CHROMIUM": CHROMIUM},
                capture_output=True,
                text=True,
                timeout=900,
            )
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-3000:])
            return json.loads(done.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    error = prepare_web()
    if error:
        sys.exit(error)

    editor, count = editor_route_bytes()
    bare = bare_react_bytes()
    print("bench/web: JavaScript for the editor route (gzip)")
    print(f"  MDReader editor route   {editor / 1024:8.1f} KiB  ({count} files)")
    print(f"  bare Vite + React page  {bare / 1024:8.1f} KiB")
    print(f"  ratio editor / bare     {editor / bare:8.2f}")

    times = open_times(args.runs)
    small = statistics.median(times["1 KB"])
    large = statistics.median(times["1 MB"])
    print(
        f"bench/web: open a document in Chromium until synced and previewed ({args.runs} runs, median)"
    )
    print(f"  1 KB document           {small:8.0f} ms   {times['1 KB']}")
    print(f"  1 MB document           {large:8.0f} ms   {times['1 MB']}")
    print(f"  ratio 1 MB / 1 KB       {large / small:8.2f}")


if __name__ == "__main__":
    main()
