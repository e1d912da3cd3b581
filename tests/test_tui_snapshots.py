"""SVG snapshots of every screen and dialog (pytest-textual-snapshot).

Regenerate after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the result (``python screenshots/make.py`` writes the same screens as PNG)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jupyter_kernels import demo_kernel
from scenes import SCENES, SIZE
from tui_pilot import make_app


@pytest.mark.parametrize("scene", SCENES, ids=[s.name for s in SCENES])
def test_screen(scene, snap_compare, demo_home: Path) -> None:
    if not scene.kernel:
        assert snap_compare(make_app(demo_home), terminal_size=SIZE, run_before=scene.run)
        return
    with demo_kernel(Path(os.environ["JUPYTER_RUNTIME_DIR"]), demo_home):
        assert snap_compare(make_app(demo_home), terminal_size=SIZE, run_before=scene.run)
