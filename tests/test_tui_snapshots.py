"""SVG snapshots of every screen and dialog (pytest-textual-snapshot), at 80x24 and 200x60.

Regenerate after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the result (``python screenshots/make.py`` writes the same screens as PNG)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jupyter_kernels import demo_kernel
from scenes import SCENES, SIZES
from tui_pilot import make_app

CASES = [(scene, size) for scene in SCENES for size in SIZES]


@pytest.mark.parametrize(
    ("scene", "size"), CASES, ids=[f"{scene.name}-{size}" for scene, size in CASES]
)
def test_screen(scene, size, snap_compare, demo_home: Path) -> None:
    home = demo_home.with_name("sessions-new") if scene.empty else demo_home
    app = make_app(home)
    if not scene.kernel:
        assert snap_compare(app, terminal_size=SIZES[size], run_before=scene.run)
        return
    with demo_kernel(Path(os.environ["JUPYTER_RUNTIME_DIR"]), demo_home):
        assert snap_compare(app, terminal_size=SIZES[size], run_before=scene.run)
