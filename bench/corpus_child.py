"""The processes of the corpus benchmark (``bench/corpus.py``), one step each:

    python bench/corpus_child.py save SPEC.json OUT.json           # run, fingerprint, save twice
    python bench/corpus_child.py load-sessions SPEC.json OUT.json  # fresh process: load, compare
    python bench/corpus_child.py load-dill SPEC.json OUT.json

``save`` runs the example as ``__main__`` (a fresh module of that name, the script's directory
first on ``sys.path``, its own working directory), fingerprints every public variable, saves
the namespace with ``sessions.save`` and with ``dill.dump_module`` (in the order the spec
says), and fingerprints again to find values whose fingerprint saving changed (reported as
unstable, never blamed on a tool). The loads run in fresh processes that first import what
the script imports (a working session has them), then time only the load call and
fingerprint what came back.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import io
import json
import os
import sys
import time
import traceback
import types
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fingerprint import FingerprintError, fingerprint


def _fresh_main(file: str) -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__file__ = file
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    module.__spec__ = None
    sys.modules["__main__"] = module
    return module


def compared_names(namespace: dict[str, Any]) -> list[str]:
    """The variables the corpus compares: public names (private throwaways such as ``_`` are
    excepted; a private helper that code calls is still checked, through the fingerprint of
    the code that calls it)."""
    return [n for n in namespace if isinstance(n, str) and not n.startswith("_")]


def _fingerprints(namespace: dict[str, Any], names: list[str]) -> tuple[dict, dict]:
    prints, errors = {}, {}
    for name in names:
        try:
            digest, paths = fingerprint(namespace[name])
            prints[name] = {"digest": digest, "paths": paths}
        except FingerprintError as exc:
            errors[name] = str(exc)
    return prints, errors


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def script_imports(source: str) -> list[str]:
    """Every module the script imports, in order (a load process imports them first)."""
    out: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append(node.module)
    return list(dict.fromkeys(out))


def _imported(*modules: str) -> float:
    """Seconds to import a tool's modules, which happens before its call is timed: ``import
    dill`` brings all of dill; ``import sessions`` is kept light on purpose, so the engine
    modules its first save or load would import are imported here too. Reported apart."""
    start = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    return time.perf_counter() - start


def _save_sessions() -> dict[str, Any]:
    imports = _imported("sessions", "sessions.core.engine.save")
    import sessions

    start = time.perf_counter()
    result = sessions.save("corpus")
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "import_seconds": imports,
        "saved": list(result.saved) + list(result.imports),
        "skipped": dict(result.skipped),
    }


def _save_dill(path: str) -> dict[str, Any]:
    imports = _imported("dill")
    import dill

    start = time.perf_counter()
    dill.dump_module(path)
    return {"seconds": time.perf_counter() - start, "import_seconds": imports}


def save(spec: dict[str, Any]) -> dict[str, Any]:
    script = spec["script"]
    source = Path(script).read_text()
    module = _fresh_main(script)
    sys.argv = [script]
    sys.path.insert(0, str(Path(script).parent))
    code = compile(source, script, "exec")
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(code, module.__dict__)
    out: dict[str, Any] = {"run_seconds": time.perf_counter() - start}
    namespace = module.__dict__
    names = compared_names(namespace)
    out["names"] = names
    out["fingerprints"], out["unfingerprintable"] = _fingerprints(namespace, names)
    tools = {"sessions": _save_sessions, "dill": lambda: _save_dill(spec["dill_file"])}
    for tool in spec["order"]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[tool] = tools[tool]()
        except Exception as exc:
            out[tool] = {"error": _one_line(exc)}
    again, _ = _fingerprints(namespace, list(out["fingerprints"]))
    out["unstable"] = [
        n for n, fp in out["fingerprints"].items() if again.get(n, {}).get("digest") != fp["digest"]
    ]
    return out


def load(spec: dict[str, Any], tool: str) -> dict[str, Any]:
    module = _fresh_main(os.path.join(spec["workdir"], "loader.py"))
    sys.path.insert(0, str(Path(spec["script"]).parent))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in script_imports(Path(spec["script"]).read_text()):
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        if tool == "sessions":
            imports = _imported("sessions", "sessions.core.engine.load")
        else:
            imports = _imported("dill")
        import dill

        import sessions

        out: dict[str, Any] = {"failed": {}, "import_seconds": imports}
        start = time.perf_counter()
        try:
            if tool == "sessions":
                report = sessions.load("corpus")
                out["failed"] = dict(report.failed)
            else:
                dill.load_module(spec["dill_file"])
        except Exception as exc:
            out["error"] = _one_line(exc)
        out["seconds"] = time.perf_counter() - start
    namespace = module.__dict__
    present = [n for n in spec["names"] if n in namespace]
    out["fingerprints"], out["unfingerprintable"] = _fingerprints(namespace, present)
    return out


def main() -> None:
    mode, spec_path, out_path = sys.argv[1:4]
    spec = json.loads(Path(spec_path).read_text())
    os.chdir(spec["workdir"])
    try:
        result = save(spec) if mode == "save" else load(spec, mode.removeprefix("load-"))
    except BaseException as exc:
        result = {"error": _one_line(exc), "traceback": traceback.format_exc()[-2000:]}
    Path(out_path).write_text(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # the example's threads and atexit hooks are not part of the measurement


if __name__ == "__main__":
    main()
