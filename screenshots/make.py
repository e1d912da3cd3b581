"""Regenerate the screenshots: every screen and dialog of the real app, on the frozen demo.

    python screenshots/make.py

Writes ``screenshots/<scene>.svg`` and, where ``rsvg-convert`` is installed (Debian package
librsvg2-bin), ``screenshots/<scene>.png``. The scenes are the ones the SVG snapshot tests
check (tests/scenes.py), so what is shown here is what is tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
OUT = ROOT / "screenshots"


async def shoot(scene, source: Path, user_home: Path) -> Path:
    from scenes import SIZE
    from tui_fixtures import place_demo
    from tui_pilot import make_app

    shutil.rmtree(user_home, ignore_errors=True)
    demo = place_demo(source, user_home)  # shown as ~/.cache/sessions-tui/demo, as in the tests
    with contextlib.ExitStack() as stack:
        if scene.kernel:
            from jupyter_kernels import demo_kernel

            stack.enter_context(demo_kernel(Path(os.environ["JUPYTER_RUNTIME_DIR"]), demo))
        app = make_app(demo)
        async with app.run_test(size=SIZE) as pilot:
            await scene.run(pilot)
            await pilot.pause(0.2)
            target = OUT / f"{scene.name}.svg"
            app.save_screenshot(str(target), path=None)
    return target


def main() -> int:
    os.environ["TZ"] = "UTC"
    time.tzset()
    work = Path(tempfile.mkdtemp(prefix="sessions-shots-"))
    for name in ("config", "cache", "logs"):
        os.environ[f"SESSIONS_{name.upper()}_DIR"] = str(work / name)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(work / "jupyter-runtime")  # only the demo kernel
    os.environ["HOME"] = str(work / "home")
    from scenes import SCENES

    from sessions.tui.demo import build_demo

    source = build_demo(work / "demo", frozen=True)
    converter = shutil.which("rsvg-convert")
    for scene in SCENES:
        svg = asyncio.run(shoot(scene, source, work / "home"))
        line = f"{scene.name:<14} {svg.relative_to(ROOT)}"
        if converter:
            png = svg.with_suffix(".png")
            subprocess.run([converter, "-w", "1400", str(svg), "-o", str(png)], check=True)
            line += f"  {png.relative_to(ROOT)}"
        print(line)
    if not converter:
        print("rsvg-convert not found: only SVGs written (apt-get install librsvg2-bin for PNGs)")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
