"""``bench/RESULTS.md``: one ``## Title`` section per benchmark, each replaced in place by its
own benchmark and the others kept as they are."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEAD = "# Benchmark results\n"


def write_section(title: str, body: str, path: Path = RESULTS) -> None:
    text = path.read_text() if path.exists() else HEAD
    parts = re.split(r"(?m)^## ", text)
    head, sections = parts[0], {}
    for part in parts[1:]:
        name, _, rest = part.partition("\n")
        sections[name.strip()] = rest
    sections[title] = "\n" + body.strip() + "\n\n"
    out = head.rstrip() + "\n\n" + "".join(f"## {k}\n{v}" for k, v in sections.items())
    path.write_text(out.rstrip() + "\n")
    print(f"\nwrote {path.relative_to(path.parent.parent)} ({title})")


def run_line(script: str, small: bool | None = None) -> str:
    """How a section was made: ``python bench/x.py [--small]`` — scale, when, CPUs."""
    import os
    import time

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = f"`python bench/{script}{' --small' if small else ''}`"
    scale = "" if small is None else ("1/10 scale (--small), " if small else "full scale, ")
    return f"{command} — {scale}{stamp}, {os.cpu_count()} CPUs."


def compile_sessions() -> None:
    """Compile sessions' modules to bytecode once, before anything is measured, as installing
    a package does (an editable install leaves that to the first import)."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for folder in ("sessions", "core", "daemon", "tui", "kernels"):
        compileall.compile_dir(str(root / folder), quiet=1)
