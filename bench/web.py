"""bench/web: the web app's weight and speed, each beside a reference measured in the same run.

1. JavaScript (gzip) a browser loads for the editor route (`/w/{id}/d/{id}`): every script a
   fresh Chromium fetches to open the 1 MB document (a table, one row a chunk: the page's own
   and its preview worker's), beside a bare Vite + React page built with the same toolchain;
   and the chunks loaded only on demand (KaTeX, mermaid, highlight.js languages, dialogs).
2. Time to open a 1 MB document in Debian's Chromium until the live document is synced over
   /ws and its preview's first screen is painted; beside the same for a 1 KB document (and, for
   information, until the whole preview is in place).
3. Typing 200 keystrokes at human speed at the end of each document with the preview open:
   the page's main-thread tasks over 50 ms (the browser's long-task timing) and the longest
   task of all (a DevTools trace), 1 MB beside 1 KB.

Usage: python -m bench.web [--runs 3] [--keys 200]   (builds web/ when needed; needs node and
chromium)
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
from typing import Any

import httpx
from support.web import CHROMIUM, WEB, prepare_web, web_server

PASSWORD = "Bench-pass-1"
EMAIL = "bench-web@example.com"


def gz(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def on_demand_chunks(dist: Path, loaded: set[str]) -> dict[str, int]:
    """What the app's own modules import lazily and opening the document did not load: each
    named by the imported module, with the gzip bytes it brings (its static imports included,
    beyond what was loaded; mermaid loads each diagram type's code later still)."""
    manifest = json.loads((dist / ".vite" / "manifest.json").read_text())
    lazy = {
        k
        for key, item in manifest.items()
        if key.startswith("src/")
        for k in item.get("dynamicImports", [])
    }
    out: dict[str, int] = {}
    for key in lazy:
        files: set[str] = set()
        todo = [key]
        while todo:
            it = manifest[todo.pop()]
            if it["file"] in files or it["file"] in loaded:
                continue
            files.add(it["file"])
            todo.extend(it.get("imports", []))
        size = sum(gz(dist / f) for f in files if f.endswith(".js"))
        if size:
            out[key.replace("node_modules/", "")] = size
    return out


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


def browser_runs(runs: int, keys: int) -> dict[str, Any]:
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
                        {
                            "name": name,
                            "size": size,
                            "path": f"/w/{wid}/d/{r.json()['id']}",
                            "opening": "Section 1",
                            "sentinel": sentinel,
                        }
                    )
            spec = {
                "base": server.base_url,
                "email": EMAIL,
                "password": PASSWORD,
                "runs": runs,
                "keys": keys,
                "docs": docs,
            }
            done = subprocess.run(
                ["node", "scripts/bench-open.mjs", json.dumps(spec)],
                cwd=WEB,
                env={**os.environ, "CHROMIUM": CHROMIUM},
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-3000:])
            result: dict[str, Any] = json.loads(done.stdout)
            return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keys", type=int, default=200)
    args = parser.parse_args()
    error = prepare_web()
    if error:
        sys.exit(error)

    result = browser_runs(args.runs, args.keys)
    dist = WEB / "dist"
    loaded = sorted({p.lstrip("/") for p in result["scripts"]})
    sizes = {f: gz(dist / f) for f in loaded if (dist / f).is_file()}
    page_js = sum(n for f, n in sizes.items() if not Path(f).name.startswith("worker-"))
    worker_js = sum(n for f, n in sizes.items() if Path(f).name.startswith("worker-"))
    bare = bare_react_bytes()
    print("bench/web: JavaScript fetched to open the 1 MB document (gzip, one row a chunk)")
    for f, n in sorted(sizes.items(), key=lambda kv: -kv[1]):
        where = "worker" if Path(f).name.startswith("worker-") else "page"
        print(f"  {where:6} {n / 1024:8.1f} KiB  {Path(f).name}")
    print(f"  editor route, page      {page_js / 1024:8.1f} KiB  ({len(sizes)} files in all)")
    print(f"  preview worker          {worker_js / 1024:8.1f} KiB  (off the main thread)")
    print(f"  bare Vite + React page  {bare / 1024:8.1f} KiB")
    print(f"  ratio route / bare      {page_js / bare:8.2f}")
    print(f"  ratio route+worker/bare {(page_js + worker_js) / bare:8.2f}")
    print("bench/web: chunks loaded only on demand (gzip, beyond the above)")
    lazy = on_demand_chunks(dist, set(loaded))
    for f in sorted((dist / "assets").glob("worker-*.js")):
        if f"assets/{f.name}" not in loaded:
            lazy[f"preview worker: {f.name}"] = gz(f)
    for name, n in sorted(lazy.items(), key=lambda kv: -kv[1]):
        print(f"         {n / 1024:8.1f} KiB  {name}")

    times = {name: [t["first"] for t in runs] for name, runs in result["open"].items()}
    wholes = {name: [t["whole"] for t in runs] for name, runs in result["open"].items()}
    small = statistics.median(times["1 KB"])
    large = statistics.median(times["1 MB"])
    print(
        f"bench/web: open a document in Chromium until synced and its preview painted"
        f" ({args.runs} runs, median)"
    )
    print(f"  1 KB document           {small:8.0f} ms   {times['1 KB']}")
    print(f"  1 MB document           {large:8.0f} ms   {times['1 MB']}")
    print(f"  ratio 1 MB / 1 KB       {large / small:8.2f}")
    print(
        f"  (whole preview in place: 1 KB {statistics.median(wholes['1 KB']):.0f} ms,"
        f" 1 MB {statistics.median(wholes['1 MB']):.0f} ms  {wholes['1 MB']})"
    )

    typing = result["typing"]
    print(f"bench/web: type {args.keys} keys at human speed with the preview open (main thread)")
    for name in ("1 KB", "1 MB"):
        t = typing[name]
        over = t["longTasks"]
        print(
            f"  {name} document  tasks over 50 ms: {len(over):3d}"
            f" (longest {max(over, default=0):5.0f} ms)   longest task {t['longest']:6.1f} ms,"
            f" p99 {t['p99']:5.1f} ms of {t['tasks']}"
        )
    small_t, large_t = typing["1 KB"]["longest"], typing["1 MB"]["longest"]
    print(f"  ratio longest task 1 MB / 1 KB {large_t / max(small_t, 1):8.2f}")
    print(
        f"  tasks over 50 ms 1 MB / 1 KB   {len(typing['1 MB']['longTasks'])} / {len(typing['1 KB']['longTasks'])}"
    )


if __name__ == "__main__":
    main()
