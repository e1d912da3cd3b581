"""save() inside a real IPython kernel, and load() into a new one."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_kernels import kernel

NOTEBOOK_CELLS = [
    "import numpy as np\nimport pandas as pd\nimport sessions",
    "arr = np.linspace(0, 1, 1001)\ndf = pd.DataFrame({'x': range(4), 'y': list('abcd')})",
    "class Scaler:\n    def __init__(self, k):\n        self.k = k\n    def __call__(self, v):\n        return v * self.k\n\nscale3 = Scaler(3)",
    "def summarize(a):\n    return float(np.round(a.mean(), 3))",
    "r = sessions.save('notebook-work', note='from a kernel')\nprint(r.ref, sorted(r.skipped))",
]


def test_save_in_kernel_and_load_in_a_new_one(home: Path) -> None:
    with kernel(home) as k:
        for cell in NOTEBOOK_CELLS:
            result = k.run(cell)
            assert result["error"] is None, result
        assert result["stdout"].split()[0] == "notebook-work@1"
        assert result["stdout"].strip().endswith("[]"), (
            "ipykernel internals must not be skipped noise"
        )
    import sessions

    info = sessions.inspect("notebook-work")
    assert info.manifest.origin["kind"] in ("kernel", "notebook")
    assert info.manifest.origin.get("kernel_id")
    assert any("sessions.save" in text for text in info.manifest.history)
    assert not {"In", "Out", "get_ipython", "exit", "quit"} & set(info.variables)

    with kernel(home) as k:
        result = k.run(
            "import sessions, json\n"
            "rep = sessions.load('notebook-work')\n"
            "print(json.dumps({'failed': rep.failed, 'arr': float(arr.sum()), 'n': len(arr),"
            " 'df': df.y.tolist(), 'scaled': scale3(5), 'cls': isinstance(scale3, Scaler),"
            " 'summary': summarize(arr)}))"
        )
        assert result["error"] is None, result
        got = json.loads(result["stdout"].strip().splitlines()[-1])
    assert got == {
        "failed": {},
        "arr": 500.5,
        "n": 1001,
        "df": ["a", "b", "c", "d"],
        "scaled": 15,
        "cls": True,
        "summary": 0.5,
    }
