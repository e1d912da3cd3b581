"""Engine benchmark: sessions against dill, pickle, joblib and torch on every session shape.

    python bench/bench_engine.py                  # every shape, full scale (~15 min on 2 CPUs)
    python bench/bench_engine.py --small          # 1/10 scale, for a quick look
    python bench/bench_engine.py --only vars-10k --only vars-100k

Shapes (issue #9 item 6): the reference session of ``bench_core.py`` with its string column as
Python objects and as Arrow; 25,000 tiny arrays plus 5,000 small dicts; 10,000 and 100,000
small variables; one dict of 1,000,000 small tuples; a fitted random forest (200 trees) with
its data; a 100M-parameter torch model with its AdamW optimizer state after one step.

Tools, side by side in one run: ``sessions.save``/``load``; ``dill.dump_module``/
``load_module``; ``pickle`` protocol 5 of the saved variables as one file; ``joblib.dump``/
``load``; ``torch.save``/``load`` for the torch model. Every measurement runs in a fresh
Python process (so peak memory is that process's), which builds the shape in ``__main__``
first (the forest and the torch model are built once per run and read from a cache file,
because fitting and initialising them takes longer than saving them). Load processes import
the shape's libraries before timing, as a working session would have.

Measured: save; full load; one-variable load (sessions; the others can only load
everything); re-save with nothing changed and with about 1% changed (sessions; the others can
only save everything again); files added and bytes written (``wchar`` of ``/proc/self/io``);
peak memory over the memory before the save (``VmHWM`` reset through ``/proc/self/clear_refs``).
Results print as tables and go to ``bench/RESULTS.md``, one ``Engine: <shape>`` section per
shape, so ``--only`` replaces only the shapes it ran.

The random forest needs scikit-learn and the torch model needs torch; both are
benchmark-only dependencies, and a shape whose package is missing is skipped::

    pip install scikit-learn
    pip install torch==2.13.0    # the CPU build
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_core import BUILD as REFERENCE_BUILD  # noqa: E402
from bench_core import CHILD_PRELUDE, STRINGS  # noqa: E402
from results import compile_sessions, run_line, write_section  # noqa: E402

# --- shapes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One session shape: how to build it, what a 1% change is, which variable to load alone."""

    key: str
    title: str
    build: str  # code run in a fresh __main__; {scale} is 1 (full) or 10 (--small)
    imports: str  # what a load process imports before timing
    change: str  # code changing about 1% of the session, inside a function
    one: str  # the variable of the one-variable load
    needs: tuple[str, ...] = ()  # packages without which the shape is skipped
    cache: str = ""  # code building the cached objects once per run (written to _CACHE)
    torch: bool = False  # also measure torch.save / torch.load


def _reference(storage: str) -> str:
    """bench_core's builder, with its sizes divided by ``{scale}`` (braces escaped again)."""
    code = STRINGS.format(storage=storage) + REFERENCE_BUILD.format(
        arrays=8, array_len="12_500_000 // SCALE", rows="5_000_000 // SCALE"
    )
    return code.replace("{", "{{").replace("}", "}}").replace("SCALE", "{scale}")


SHAPES = [
    Shape(
        "reference-python",
        "reference session, strings as Python objects",
        _reference("python"),
        "import numpy, pandas\n",
        "a0[: a0.shape[0] // 100] += 1.0",
        "a3",
        ("numpy", "pandas"),
    ),
    Shape(
        "reference-arrow",
        "reference session, strings as Arrow",
        _reference("pyarrow"),
        "import numpy, pandas, pyarrow\n",
        "a0[: a0.shape[0] // 100] += 1.0",
        "a3",
        ("numpy", "pandas", "pyarrow"),
    ),
    Shape(
        "tiny-arrays",
        "25,000 tiny arrays + 5,000 small dicts",
        """
import numpy as np
for _i in range(25_000 // {scale}):
    globals()[f"t{{_i}}"] = np.full(16, _i, dtype=np.float64)
for _i in range(5_000 // {scale}):
    globals()[f"d{{_i}}"] = {{"id": _i, "name": f"row-{{_i}}", "values": [_i, _i + 1, _i + 2]}}
""",
        "import numpy\n",
        """
for _i in range(0, 25_000 // {scale}, 100):
    globals()[f"t{{_i}}"] += 1.0
for _i in range(0, 5_000 // {scale}, 100):
    globals()[f"d{{_i}}"]["id"] += 1
""",
        "t123",
        ("numpy",),
    ),
    Shape(
        "vars-10k",
        "10,000 small variables (ints, short strings, small lists)",
        """
for _i in range(10_000 // {scale}):
    globals()[f"v{{_i}}"] = (_i, f"value-{{_i}}", [_i, _i + 1, _i + 2])[_i % 3]
""",
        "",
        """
for _i in range(0, 10_000 // {scale}, 100):
    globals()[f"v{{_i}}"] = -_i - 1
""",
        "v123",
    ),
    Shape(
        "vars-100k",
        "100,000 small variables (ints, short strings, small lists)",
        """
for _i in range(100_000 // {scale}):
    globals()[f"v{{_i}}"] = (_i, f"value-{{_i}}", [_i, _i + 1, _i + 2])[_i % 3]
""",
        "",
        """
for _i in range(0, 100_000 // {scale}, 100):
    globals()[f"v{{_i}}"] = -_i - 1
""",
        "v123",
    ),
    Shape(
        "tuples-1m",
        "one dict of 1,000,000 small tuples",
        """
table = {{_i: (_i, f"key-{{_i}}", _i * 0.5) for _i in range(1_000_000 // {scale})}}
meta = {{"rows": len(table), "source": "synthetic"}}
""",
        "",
        """
for _i in range(0, 1_000_000 // {scale}, 100):
    table[_i] = (-_i, "changed", 0.0)
""",
        "meta",
    ),
    Shape(
        "forest",
        "random forest (200 trees) with its data",
        """
import pickle as _pickle
with open(_CACHE, "rb") as _f:
    X, y, model = _pickle.load(_f)
""",
        "import numpy, sklearn.ensemble\n",
        "X[: X.shape[0] // 100] += 1.0",
        "model",
        ("numpy", "sklearn"),
        cache="""
import pickle
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
X, y = make_classification(n_samples=10_000 // {scale}, n_features=20, random_state=0)
model = RandomForestClassifier(n_estimators=200 // {scale}, random_state=0, n_jobs=-1)
model.fit(X, y)
with open(_CACHE, "wb") as f:
    pickle.dump((X, y, model), f, protocol=5)
""",
    ),
    Shape(
        "torch",
        "torch model of 100M parameters with AdamW state after one step",
        """
import torch
model, optimizer = torch.load(_CACHE, weights_only=False)
""",
        "import torch\n",
        """
with torch.no_grad():
    _w = model[0].weight  # six equal layers: 6% of one layer's rows is 1% of the model
    _w[: max(1, int(_w.shape[0] * 0.06))] += 1.0
""",
        "model",
        ("torch",),
        cache="""
import torch
torch.manual_seed(0)
width = 4096 if {scale} == 1 else 1296  # six layers: 100.7M or 10.1M parameters
model = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(6)])
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
model(torch.randn(8, width)).square().mean().backward()
optimizer.step()
optimizer.zero_grad()
torch.save((model, optimizer), _CACHE)
""",
        torch=True,
    ),
]
SHAPE_KEYS = [s.key for s in SHAPES]
FIXED = "fixed-costs"

# A notebook's first save: twenty variables of the usual kinds, numpy already imported.
FIXED_SESSION = """
import numpy as np
n_rows, rate, label, flag, nothing = 1000, 0.25, "experiment 7", True, None
ids = list(range(100))
names = ["alpha", "beta", "gamma"]
config = {"lr": 0.01, "epochs": 10, "layers": [64, 32]}
pairs = [(i, i * i) for i in range(20)]
lookup = {f"k{i}": i for i in range(50)}
weights = np.linspace(0, 1, 1000)
grid = np.arange(12).reshape(3, 4)
mask = weights > 0.5
scores = {"train": 0.91, "test": 0.87}
text = "the quick brown fox " * 10
coords = (1.5, -2.25)
tags = {"a", "b", "c"}
matrix = [[1, 2], [3, 4]]
counts = np.bincount([1, 1, 2, 3, 3, 3])
blob = b"raw bytes"
"""


def fixed_costs(work: Path, runs: int = 7) -> dict[str, float]:
    """Medians over ``runs`` fresh processes: ``import sessions``, ``import numpy``, and the
    first save of a 20-variable session in a process (into a new session dir)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    timed = "import time\n_t = time.perf_counter()\n{}\nprint(time.perf_counter() - _t)\n"
    codes = {
        "import_sessions": timed.format("import sessions"),
        "import_numpy": timed.format("import numpy"),
        "first_save": FIXED_SESSION + "import sessions\n" + timed.format("sessions.save('fixed')"),
    }
    out: dict[str, float] = {}
    for key, code in codes.items():
        seconds = []
        for run in range(runs):
            env["SESSIONS_HOME"] = str(work / f"fixed-{key}-{run}")
            done = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            seconds.append(float(done.stdout.split()[-1]))
        out[key] = sorted(seconds)[len(seconds) // 2]
    return out


def fixed_table(found: dict[str, float]) -> tuple[str, list[str]]:
    """The fixed costs as text, and their verdicts."""
    ratio = found["import_sessions"] / found["import_numpy"]
    text = (
        f"import sessions             {found['import_sessions'] * 1000:7.1f} ms\n"
        f"import numpy                {found['import_numpy'] * 1000:7.1f} ms"
        f"   (sessions / numpy: {ratio:.2f})\n"
        f"first save, 20 variables    {found['first_save'] * 1000:7.1f} ms"
        "   (fresh process and session dir, numpy imported before)"
    )
    verdicts = [
        f"[{'met' if found['first_save'] <= 0.15 else 'NOT met'}] {FIXED}: first save of a "
        f"20-variable session {found['first_save'] * 1000:.0f} ms (≤ 150 ms)",
        f"[{'met' if ratio <= 0.25 else 'NOT met'}] {FIXED}: import sessions {ratio:.2f}× "
        "import numpy (≤ 0.25×)",
    ]
    return text, verdicts


# --- what each child process does ---------------------------------------------------------

HELPERS = """
import types as _types

def _payload():
    return {k: v for k, v in globals().items()
            if not k.startswith("_") and not isinstance(v, _types.ModuleType)}

def _files(path):
    if os.path.isfile(path):
        return 1
    return sum(len(files) for _, _, files in os.walk(path))

def _measure_files(fn, path):
    before = _files(path) if os.path.exists(path) else 0
    out = _measure(fn)
    out["files"] = _files(path) - before
    return out

def _emit(out):
    print("RESULT " + json.dumps(out), flush=True)
"""

SAVE = {
    # the library's save machinery imported before timing, as the others' modules are (dill,
    # joblib, torch): a save measures saving; the first save's fixed cost in a fresh process,
    # imports included, is the fixed-costs shape's
    "sessions": """
import sessions
import sessions.core.engine.save
def _change():
{change}
def _run():
    home = os.environ["SESSIONS_HOME"]
    out = {{"save": _measure_files(lambda: sessions.save("bench"), home)}}
    out["resave_none"] = _measure_files(lambda: sessions.save("bench"), home)
    _change()
    out["resave_one"] = _measure_files(lambda: sessions.save("bench"), home)
    return out
_emit(_run())
""",
    "dill": """
import dill, warnings
def _run():
    try:
        return {{"save": _measure_files(lambda: dill.dump_module(_FILE), _FILE)}}
    except Exception as exc:  # e.g. torch 2.13's AdamW class, which stock dill cannot locate
        if os.path.exists(_FILE):
            os.unlink(_FILE)
        warnings.simplefilter("ignore")
        note = f"dill.dump_module failed ({{type(exc).__name__}}: {{str(exc)[:70]}}); "
        note += "measured dill.dump(variables, byref=True) / dill.load instead"
        open(_FILE + ".variables", "w").close()  # tells the load process which form this is
        def _save():
            with open(_FILE, "wb") as f:
                dill.dump(_payload(), f, protocol=5, byref=True)
        return {{"save": _measure_files(_save, _FILE), "note": note}}
_emit(_run())
""",
    "pickle": """
import pickle as _pickle
def _save():
    with open(_FILE, "wb") as f:
        _pickle.dump(_payload(), f, protocol=5)
_emit({{"save": _measure_files(_save, _FILE)}})
""",
    "joblib": """
import joblib as _joblib
_emit({{"save": _measure_files(lambda: _joblib.dump(_payload(), _FILE), _FILE)}})
""",
    "torch": """
def _save():
    torch.save(_payload(), _FILE)
_emit({{"save": _measure_files(_save, _FILE)}})
""",
}

LOAD = {
    # the library is imported before the load is timed, as dill's process imports dill and
    # bench/corpus.py does for both (``import sessions`` is light on purpose: the engine
    # modules a first load needs are imported here, timed apart and reported)
    "sessions": """
import time as _time
_started = _time.perf_counter()
import sessions, sessions.core.engine.load
_imported = _time.perf_counter() - _started
def _run():
    holder = {{}}
    def _load():
        holder["report"] = sessions.load("bench@1")
    out = {{"load": _measure(_load), "import": {{"seconds": _imported}}}}
    out["failed"] = dict(holder["report"].failed)
    return out
_emit(_run())
""",
    "sessions_one": """
import sessions
def _run():
    holder = {{}}
    def _load():
        holder["report"] = sessions.load("bench@1", names=[{one!r}])
    out = {{"one": _measure(_load)}}
    out["failed"] = dict(holder["report"].failed)
    # again, the library now imported: what a one-variable load itself costs
    out["one_again"] = _measure(lambda: sessions.load("bench@1", names=[{one!r}], namespace={{}}))
    return out
_emit(_run())
""",
    "dill": """
import dill
def _load():
    if os.path.exists(_FILE + ".variables"):
        with open(_FILE, "rb") as f:
            globals().update(dill.load(f))
    else:
        dill.load_module(_FILE)
_emit({{"load": _measure(_load)}})
""",
    "pickle": """
import pickle as _pickle
def _load():
    with open(_FILE, "rb") as f:
        globals().update(_pickle.load(f))
_emit({{"load": _measure(_load)}})
""",
    "joblib": """
import joblib as _joblib
_emit({{"load": _measure(lambda: globals().update(_joblib.load(_FILE)))}})
""",
    "torch": """
import torch
_emit({{"load": _measure(lambda: globals().update(torch.load(_FILE, weights_only=False)))}})
""",
}

FILE_SUFFIX = {"dill": ".dill", "pickle": ".pkl", "joblib": ".joblib", "torch": ".pt"}


class ChildFailed(Exception):
    """A measurement process failed or timed out; the message says which and why."""


def _child(source: str, env: dict[str, str], timeout: float) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(source)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ChildFailed(f"timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise ChildFailed(last[:200])
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise ChildFailed("no result printed")
    return json.loads(line[len("RESULT ") :])


def _available(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None


# --- running one shape ----------------------------------------------------------------------


def run_shape(
    shape: Shape, scale: int, work: Path, timeout: float, only_tools: list[str] | None = None
) -> dict[str, Any]:
    """Every tool on one shape, each step in a fresh process; tool -> measurements or error."""
    shape_dir = work / shape.key
    shutil.rmtree(shape_dir, ignore_errors=True)
    shape_dir.mkdir(parents=True)
    env = dict(os.environ)
    env["SESSIONS_HOME"] = str(shape_dir / "sessions-home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    # measured processes run sessions from compiled bytecode, as they do every installed
    # package: with PYTHONDONTWRITEBYTECODE set, each would compile sessions anew
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cache = shape_dir / "cache.bin"
    prelude = CHILD_PRELUDE + HELPERS + f"_CACHE = {str(cache)!r}\n"
    build = shape.build.format(scale=scale)
    change = textwrap.indent(textwrap.dedent(shape.change.format(scale=scale)).strip(), "    ")
    results: dict[str, Any] = {}
    if shape.cache:
        print(f"  building {shape.key} once…", flush=True)
        try:
            _child(prelude + shape.cache.format(scale=scale) + "_emit({})\n", env, timeout)
        except ChildFailed as exc:
            return {"error": f"building the shape failed: {exc}"}
    tools = ["sessions", "dill", "pickle", "joblib"] + (["torch"] if shape.torch else [])
    tools = [t for t in tools if not only_tools or t in only_tools]
    for tool in tools:
        target = shape_dir / f"session{FILE_SUFFIX.get(tool, '')}"
        head = prelude + f"_FILE = {str(target)!r}\n"
        entry: dict[str, Any] = {}
        try:
            print(f"  {tool}: save…", flush=True)
            entry.update(_child(head + build + SAVE[tool].format(change=change), env, timeout))
            print(f"  {tool}: load…", flush=True)
            entry.update(_child(head + shape.imports + LOAD[tool].format(), env, timeout))
            if tool == "sessions":
                print("  sessions: load one variable…", flush=True)
                one = _child(
                    head + shape.imports + LOAD["sessions_one"].format(one=shape.one), env, timeout
                )
                entry["one"] = one["one"]
                entry["one_again"] = one["one_again"]
                entry["failed"] = {**entry.get("failed", {}), **one["failed"]}
            if tool != "sessions":
                entry["size"] = target.stat().st_size if target.exists() else 0
        except ChildFailed as exc:
            entry["error"] = str(exc)
        results[tool] = entry
    shutil.rmtree(shape_dir, ignore_errors=True)
    return results


# --- reporting ------------------------------------------------------------------------------


def _size(n: float) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.0f} KB"


def _secs(entry: dict[str, Any], key: str) -> float | None:
    step = entry.get(key)
    return None if step is None else float(step["seconds"])


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}" if value < 1 else f"{value:.2f}"


def _peak(step: dict[str, Any] | None) -> float | None:
    if not step or not step.get("rss_before"):
        return None
    return float(step["peak"]) / float(step["rss_before"])


def table(shape: Shape, results: dict[str, Any]) -> str:
    """The shape's measurements as a fixed-width table plus sessions' ratios to each tool."""
    if "error" in results:
        return f"{shape.title}: {results['error']}"
    header = (
        f"{'tool':<9}{'save s':>9}{'load s':>9}{'one var s':>10}{'re-save 0%':>11}"
        f"{'re-save 1%':>11}{'files':>8}{'written':>11}{'peak/pre':>9}"
    )
    lines = [header, "-" * len(header)]
    for tool, entry in results.items():
        if "error" in entry and "save" not in entry:
            lines.append(f"{tool:<9} failed: {entry['error']}")
            continue
        save = entry.get("save", {})
        peak = _peak(save)
        lines.append(
            f"{tool:<9}{_cell(_secs(entry, 'save')):>9}{_cell(_secs(entry, 'load')):>9}"
            f"{_cell(_secs(entry, 'one')):>10}{_cell(_secs(entry, 'resave_none')):>11}"
            f"{_cell(_secs(entry, 'resave_one')):>11}{save.get('files', 0):>8,}"
            f"{_size(save.get('written', 0)):>11}{(f'{peak:.2f}×' if peak else '—'):>9}"
        )
        if "error" in entry:
            lines.append(f"{'':<9} then failed: {entry['error']}")
    ours = results.get("sessions", {})
    notes = []
    if "resave_none" in ours:
        notes.append(
            f"sessions re-saves wrote {_size(ours['resave_none']['written'])} (nothing changed, "
            f"{ours['resave_none']['files']} files) and {_size(ours['resave_one']['written'])} "
            f"(1% changed, {ours['resave_one']['files']} files)"
        )
    if "import" in ours:
        notes.append(
            f"sessions full load: importing the library first took "
            f"{ours['import']['seconds'] * 1000:.0f} ms, not in 'load s' (as `import dill` is "
            "not in dill's)"
        )
    if "one_again" in ours:
        notes.append(
            f"sessions one-variable load: {ours['one']['seconds'] * 1000:.0f} ms as the first "
            "thing in a fresh process (importing the library included), "
            f"{ours['one_again']['seconds'] * 1000:.0f} ms for another in the same process"
        )
    peaks = [p for p in (_peak(ours.get(k)) for k in ("save", "resave_none", "resave_one")) if p]
    if peaks:
        notes.append(
            f"sessions peak memory over all three saves: {max(peaks):.2f}× the pre-save RSS"
        )
    for tool, entry in results.items():
        if entry.get("note"):
            notes.append(f"{tool}: {entry['note']}")
    if ours.get("failed"):
        notes.append(f"sessions failed to load: {', '.join(sorted(ours['failed']))[:200]}")
    for tool, entry in results.items():
        if tool == "sessions" or "save" not in entry or "save" not in ours:
            continue
        parts = [f"save {entry['save']['seconds'] / ours['save']['seconds']:.2f}×"]
        if "load" in entry and "load" in ours:
            parts.append(f"load {entry['load']['seconds'] / ours['load']['seconds']:.2f}×")
        notes.append(f"speedup of sessions over {tool} (their time / ours): " + ", ".join(parts))
    return "\n".join([f"{shape.title}:", *lines, "", *notes])


def checks(results: dict[str, dict[str, Any]], small: bool) -> list[str]:
    """The issue's "Done when" figures this run can tell, each marked met or not."""
    out: list[str] = []

    def mark(ok: bool, text: str) -> None:
        out.append(f"[{'met' if ok else 'NOT met'}] {text}")

    def get(key: str, tool: str, step: str) -> float | None:
        entry = results.get(key, {}).get(tool, {})
        return _secs(entry, step)

    for key, res in results.items():
        peak = _peak(res.get("sessions", {}).get("save"))
        if peak is not None:
            mark(peak <= 1.3, f"{key}: sessions peak memory while saving {peak:.2f}× ≤ 1.3×")
    for key in ("reference-python", "reference-arrow"):
        ours = results.get(key, {}).get("sessions", {})
        dsave, dload = get(key, "dill", "save"), get(key, "dill", "load")
        if dsave and "save" in ours:
            ratio = dsave / ours["save"]["seconds"]
            mark(ratio >= 5, f"{key}: save {ratio:.1f}× faster than dill (≥ 5×)")
        if dload and "load" in ours:
            ratio = dload / ours["load"]["seconds"]
            mark(ratio >= 2, f"{key}: full load {ratio:.1f}× faster than dill (≥ 2×)")
        if dload and "one" in ours:
            ratio = dload / ours["one"]["seconds"]
            mark(ratio >= 20, f"{key}: one-array load {ratio:.1f}× faster than dill's load (≥ 20×)")
        if "resave_none" in ours:
            written = ours["resave_none"]["written"]
            mark(written < 1e6, f"{key}: unchanged re-save wrote {_size(written)} (< 1 MB)")
        peak = _peak(ours.get("save"))
        if peak is not None:
            mark(peak <= 1.2, f"{key}: peak memory {peak:.2f}× (≤ 1.2×)")
    tiny = results.get("tiny-arrays", {}).get("sessions", {})
    for step in ("save", "load"):
        theirs = get("tiny-arrays", "dill", step)
        if theirs and step in tiny:
            mark(
                tiny[step]["seconds"] <= theirs,
                f"tiny-arrays: {step} {tiny[step]['seconds']:.2f} s vs dill {theirs:.2f} s",
            )
    if "save" in tiny:
        mark(
            tiny["save"]["files"] <= 200,
            f"tiny-arrays: {tiny['save']['files']} files added (≤ 200)",
        )
    for key, limit in (("vars-10k", 1.0), ("vars-100k", 1.5)):
        ours = results.get(key, {}).get("sessions", {})
        for step in ("save", "load"):
            theirs = get(key, "dill", step)
            if theirs and step in ours:
                ratio = ours[step]["seconds"] / theirs
                mark(ratio <= limit, f"{key}: {step} {ratio:.2f}× dill's time (≤ {limit}×)")
    one = get("vars-100k", "sessions", "one")
    again = get("vars-100k", "sessions", "one_again")
    if one is not None:
        warm = f"; {again * 1000:.0f} ms once the library is imported" if again else ""
        mark(
            one < 0.05 or small,
            f"vars-100k: one small variable loads in {one * 1000:.0f} ms in a fresh process "
            f"(< 50 ms){warm}",
        )
    small_run, big_run = (
        results.get("vars-10k", {}).get("sessions"),
        results.get("vars-100k", {}).get("sessions"),
    )
    if small_run and big_run:
        for step in ("save", "load", "one", "resave_none", "resave_one"):
            if step in small_run and step in big_run:
                ratio = big_run[step]["seconds"] / small_run[step]["seconds"]
                mark(ratio <= 11, f"100,000 vs 10,000 variables, {step}: {ratio:.1f}× (≤ 11×)")
    model = results.get("torch", {})
    ours = model.get("sessions", {})
    for step in ("save", "load"):
        theirs = _secs(model.get("dill", {}), step)
        if theirs and step in ours:
            mark(
                ours[step]["seconds"] <= theirs,
                f"torch: {step} {ours[step]['seconds']:.2f} s vs dill {theirs:.2f} s",
            )
    theirs = _secs(model.get("torch", {}), "load")
    if theirs and "load" in ours:
        ratio = ours["load"]["seconds"] / theirs
        mark(ratio <= 2, f"torch: load {ratio:.2f}× torch.load's time (≤ 2×)")
    return out


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1/10 scale shapes")
    parser.add_argument(
        "--only",
        action="append",
        choices=[*SHAPE_KEYS, FIXED],
        metavar="SHAPE",
        help=f"run only this shape (repeatable): {', '.join([*SHAPE_KEYS, FIXED])}",
    )
    parser.add_argument(
        "--tool",
        action="append",
        choices=["sessions", "dill", "pickle", "joblib", "torch"],
        help="measure only this tool (repeatable; for development, implies --no-write)",
    )
    parser.add_argument("--dir", help="work dir (default: a temp dir)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per process")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    scale = 10 if args.small else 1
    compile_sessions()
    chosen = [s for s in SHAPES if not args.only or s.key in args.only]
    work = Path(args.dir or tempfile.mkdtemp(prefix="sessions-bench-engine-"))
    work.mkdir(parents=True, exist_ok=True)
    started, load_before = time.perf_counter(), _load_average()
    results: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}
    fixed: tuple[str, list[str]] | None = None
    try:
        if not args.only or FIXED in args.only:
            print(f"{FIXED}:", flush=True)
            fixed = fixed_table(fixed_costs(work))
            print(fixed[0] + "\n", flush=True)
        for shape in chosen:
            missing = [p for p in shape.needs if not _available(p)]
            if missing:
                texts[shape.key] = f"{shape.title}: skipped, {', '.join(missing)} not installed"
                print(texts[shape.key], flush=True)
                continue
            print(f"{shape.key}:", flush=True)
            results[shape.key] = run_shape(shape, scale, work, args.timeout, args.tool)
            texts[shape.key] = table(shape, results[shape.key])
            print(texts[shape.key] + "\n", flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    verdicts = checks(results, args.small) + (fixed[1] if fixed else [])
    minutes = (time.perf_counter() - started) / 60
    load_after = _load_average()
    print("\n".join(verdicts))
    print(
        f"\n{len(chosen)} shapes in {minutes:.1f} min; load average {load_before} -> {load_after}"
    )
    if args.no_write or args.tool:
        return 0
    busy = max((float(x) for x in (load_before, load_after) if x != "?"), default=0.0)
    noise = (
        f" The machine was shared and noisy (load average {load_before} at the start, "
        f"{load_after} at the end, on {os.cpu_count()} CPUs): compare ratios, not seconds."
        if busy > (os.cpu_count() or 1) * 0.5
        else f" Load average {load_before} at the start, {load_after} at the end."
    )
    common = (
        f"{run_line('bench_engine.py', args.small)} Python {platform.python_version()}.{noise} "
        "Every step in a fresh process; speedup = their time / ours; re-saves and the "
        "one-variable load are sessions only (the others can only save or load everything)."
    )
    for shape in chosen:
        if shape.key not in texts:
            continue
        mine = [v for v in verdicts if v.split("] ", 1)[1].startswith(shape.key + ":")]
        body = common + "\n\n```\n" + texts[shape.key] + "\n```\n"
        if mine:
            body += "\n" + "\n".join(f"- {v}" for v in mine) + "\n"
        write_section(f"Engine: {shape.key}", body)
    if fixed is not None:
        body = common.split(" Every step")[0] + " Medians of 7 fresh processes each."
        body += "\n\n```\n" + fixed[0] + "\n```\n\n" + "\n".join(f"- {v}" for v in fixed[1])
        write_section("Engine: fixed costs", body + "\n")
    linear = [v for v in verdicts if "100,000 vs 10,000" in v]
    if linear:
        write_section(
            "Engine: linearity", common + "\n\n" + "\n".join(f"- {v}" for v in linear) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
