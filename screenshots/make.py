"""Regenerate the screenshots: every screen and dialog of the real app, on the frozen demo, at
80x24 and at 200x60.

    python screenshots/make.py [SCENE ...]

Writes ``screenshots/<size>/<scene>.png`` (needs ``rsvg-convert``, Debian package
librsvg2-bin, and the Fira Code font Textual's SVGs name, fonts-firacode; without
``rsvg-convert`` the SVGs are written instead). The scenes are the ones the SVG
snapshot tests check (tests/scenes.py), so what is shown here is what is tested.
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
PIXELS_PER_COLUMN = 11


async def shoot(scene, size: tuple[int, int], source: Path, home: Path, target: Path) -> None:
    from tui_fixtures import copy_demo
    from tui_pilot import make_app

    demo = copy_demo(source, home)
    with contextlib.ExitStack() as stack:
        if scene.kernel:
            from jupyter_kernels import demo_kernel

            stack.enter_context(demo_kernel(Path(os.environ["JUPYTER_RUNTIME_DIR"]), demo))
        app = make_app(demo.with_name("sessions-new") if scene.empty else demo)
        async with app.run_test(size=size) as pilot:
            await scene.run(pilot)
            await pilot.pause(0.2)
            app.save_screenshot(str(target), path=None)


def main(only: list[str]) -> int:
    os.environ["TZ"] = "UTC"
    time.tzset()
    work = Path(tempfile.mkdtemp(prefix="sessions-shots-"))
    home = work / "home"  # the header shows the demo as ~/sessions-demo, as in the tests
    os.environ["HOME"] = str(home)
    home.mkdir(parents=True)
    os.chdir(home)  # dialogs offering the current directory show ~, as in the tests
    for name in ("config", "cache", "logs"):
        os.environ[f"SESSIONS_{name.upper()}_DIR"] = str(work / name)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(work / "jupyter-runtime")  # only the demo kernel
    from scenes import SCENES, SIZES

    from sessions.tui.demo import build_demo

    source = build_demo(work / "demo", frozen=True)
    converter = shutil.which("rsvg-convert")
    for label, size in SIZES.items():
        (OUT / label).mkdir(parents=True, exist_ok=True)
        for scene in SCENES:
            if only and scene.name not in only:
                continue
            svg = work / f"{label}-{scene.name}.svg"
            asyncio.run(shoot(scene, size, source, home, svg))
            if converter:
                # rsvg drops the leading non-breaking spaces Textual aligns columns with,
                # unless told to keep whitespace
                svg.write_text(svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1))
                png = OUT / label / f"{scene.name}.png"
                width = str(size[0] * PIXELS_PER_COLUMN)
                subprocess.run([converter, "-w", width, str(svg), "-o", str(png)], check=True)
            else:
                png = OUT / label / f"{scene.name}.svg"
                shutil.copy2(svg, png)
            print(f"{label:<7} {scene.name:<15} {png.relative_to(ROOT)}")
    if not converter:
        print("rsvg-convert not found: SVGs written (apt-get install librsvg2-bin for PNGs)")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
