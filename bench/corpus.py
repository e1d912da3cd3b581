"""Corpus benchmark: real example scripts, every variable saved and loaded by Sessions and by
dill, compared by fingerprint (issue #9, "fidelity at least dill's").

    pip install -e '.[bench]'                       # the pinned projects the scripts come from
    python bench/corpus.py                          # the whole corpus; writes bench/RESULTS.md
    python bench/corpus.py --only kmeans --only polar   # scripts whose id contains a word
    python bench/corpus.py --limit 5 --keep         # the first five, work dirs kept

The scripts are examples from public projects' galleries, taken from their sdists on PyPI at
pinned versions (``PROJECTS``): each sdist is downloaded once into ``bench/.work/`` (checked
against its sha256 from PyPI), and the chosen scripts are extracted from it. The installed
version of each project must be the pinned one (the ``bench`` extra pins them), since an
example is written for its own release. Scripts were chosen to need no network and no
display (``MPLBACKEND=Agg``) and to run in seconds.

For each script (``bench/corpus_child.py`` runs each step in its own process):
1. run it as ``__main__``; fingerprint every public variable (``bench/fingerprint.py``);
   save with ``sessions.save`` and with ``dill.dump_module`` (alternating which goes
   first); fingerprint again: a value whose fingerprint saving changed is "unstable" and
   left out of the comparison.
2. in a fresh process, import what the script imports, then ``sessions.load``; fingerprint.
3. likewise with ``dill.load_module``.
A variable is *equal* when its fingerprint after loading is the one before saving,
*different* when it is not (the differing paths are reported), *failed* when the tool did
not save or load it. A script is *perfect* for a tool when every variable is equal.
Save and load times are the calls alone, summed. Each tool's modules are imported just before
its call and timed apart ("imports"): ``import dill`` brings all of dill, while ``import
sessions`` is light on purpose, so the engine modules its first save or load would import
are imported there too. What a fresh process pays for imports is the engine benchmark's
fixed-cost measurement; here the work of saving and loading is compared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fingerprint import where_different  # noqa: E402
from results import run_line, write_section  # noqa: E402

WORK = HERE / ".work"
TOOLS = ("sessions", "dill")
TIMEOUT = 300


@dataclass(frozen=True)
class Project:
    """One public project's example gallery: where its scripts are in its sdist."""

    key: str
    dist: str  # the distribution on PyPI
    version: str
    prefix: str  # the scripts' folder inside the sdist
    scripts: tuple[str, ...]
    gallery: bool = True  # False: a test suite's shapes, reported in a table of their own


PROJECTS = (
    Project(
        "sklearn",
        "scikit-learn",
        "1.9.1",
        "scikit_learn-1.9.1/examples/",
        (
            "bicluster/plot_spectral_coclustering.py",
            "calibration/plot_calibration_curve.py",
            "cluster/plot_digits_agglomeration.py",
            "cluster/plot_kmeans_digits.py",
            "cluster/plot_mini_batch_kmeans.py",
            "cluster/plot_segmentation_toy.py",
            "covariance/plot_lw_vs_oas.py",
            "cross_decomposition/plot_compare_cross_decomposition.py",
            "decomposition/plot_kernel_pca.py",
            "decomposition/plot_pca_vs_lda.py",
            "ensemble/plot_forest_iris.py",
            "ensemble/plot_monotonic_constraints.py",
            "ensemble/plot_random_forest_regression_multioutput.py",
            "ensemble/plot_voting_regressor.py",
            "inspection/plot_permutation_importance_multicollinear.py",
            "miscellaneous/plot_estimator_representation.py",
            "miscellaneous/plot_roc_curve_visualization_api.py",
            "model_selection/plot_confusion_matrix.py",
            "model_selection/plot_cv_predict.py",
            "neighbors/plot_nca_illustration.py",
            "neighbors/plot_regression.py",
            "neural_networks/plot_mlp_alpha.py",
            "preprocessing/plot_discretization_strategies.py",
            "semi_supervised/plot_label_propagation_digits_active_learning.py",
            "svm/plot_custom_kernel.py",
            "svm/plot_separating_hyperplane.py",
            "svm/plot_svm_anova.py",
            "tree/plot_unveil_tree_structure.py",
        ),
    ),
    Project(
        "matplotlib",
        "matplotlib",
        "3.11.2",
        "matplotlib-3.11.2/galleries/examples/",
        (
            "axes_grid1/simple_axesgrid.py",
            "color/colorbar_histogram.py",
            "images_contours_and_fields/barb_demo.py",
            "images_contours_and_fields/contourf_demo.py",
            "images_contours_and_fields/image_masked.py",
            "images_contours_and_fields/quiver_demo.py",
            "images_contours_and_fields/tricontour_demo.py",
            "lines_bars_and_markers/barchart.py",
            "lines_bars_and_markers/markevery_demo.py",
            "lines_bars_and_markers/masked_demo.py",
            "lines_bars_and_markers/scatter_with_legend.py",
            "lines_bars_and_markers/stackplot_demo.py",
            "misc/set_and_get.py",
            "mplot3d/surface3d_radial.py",
            "mplot3d/voxels_torus.py",
            "pie_and_polar_charts/nested_pie.py",
            "pie_and_polar_charts/polar_bar.py",
            "shapes_and_collections/collections.py",
            "showcase/xkcd.py",
            "specialty_plots/sankey_basics.py",
            "specialty_plots/topographic_hillshading.py",
            "statistics/boxplot.py",
            "statistics/errorbar_features.py",
            "statistics/histogram_histtypes.py",
            "subplots_axes_and_figures/gridspec_nested.py",
            "subplots_axes_and_figures/subplots_demo.py",
            "subplots_axes_and_figures/two_scales.py",
            "text_labels_and_annotations/annotation_basic.py",
            "text_labels_and_annotations/fancytextbox_demo.py",
        ),
    ),
    # dill's own test modules: the objects they pickle (classes, nested functions, closures,
    # properties, enums, dataclasses, weakrefs, modules...), as the variables of a session
    Project(
        "dill-tests",
        "dill",
        "0.4.1",
        "dill-0.4.1/dill/tests/",
        (
            "test_abc.py",
            "test_classdef.py",
            "test_dataclasses.py",
            "test_dictviews.py",
            "test_extendpickle.py",
            "test_fglobals.py",
            "test_functions.py",
            "test_functors.py",
            "test_mixins.py",
            "test_module.py",
            "test_moduledict.py",
            "test_nested.py",
            "test_objects.py",
            "test_properties.py",
            "test_recursive.py",
            "test_restricted.py",
            "test_selected.py",
            "test_weakref.py",
        ),
        gallery=False,
    ),
)


# --- sources ------------------------------------------------------------------------------


def _sdist_url(dist: str, version: str) -> tuple[str, str, str]:
    """(file name, URL, sha256) of ``dist``'s sdist, from PyPI's JSON simple index."""
    request = urllib.request.Request(
        f"https://pypi.org/simple/{dist}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        index = json.load(response)
    for entry in index["files"]:
        name = entry["filename"]
        if name.endswith(".tar.gz") and name.rsplit("-", 1)[-1] == f"{version}.tar.gz":
            return name, entry["url"], entry["hashes"]["sha256"]
    raise SystemExit(f"no sdist of {dist} {version} on PyPI")


def fetch(project: Project) -> Path:
    """The project's chosen scripts, extracted from its sdist (downloaded once)."""
    root = WORK / "sources" / f"{project.dist}-{project.version}"
    wanted = [root / s for s in project.scripts]
    if all(p.exists() for p in wanted):
        return root
    name, url, sha256 = _sdist_url(project.dist, project.version)
    archive = WORK / "sdists" / name
    if not archive.exists():
        archive.parent.mkdir(parents=True, exist_ok=True)
        print(f"downloading {name}", flush=True)
        partial = archive.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=300) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        partial.rename(archive)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != sha256:
        archive.unlink()
        raise SystemExit(f"{name}: sha256 {digest} is not PyPI's {sha256}; removed, run again")
    members = {project.prefix + s: s for s in project.scripts}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            relative = members.get(member.name)
            if relative is None or not member.isfile():
                continue
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    missing = [str(p) for p in wanted if not p.exists()]
    if missing:
        raise SystemExit(f"{name} lacks {', '.join(missing)}")
    return root


def check_versions() -> None:
    for project in PROJECTS:
        try:
            installed = metadata.version(project.dist)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != project.version:
            raise SystemExit(
                f"{project.dist} {installed or 'is not installed'}; the corpus runs "
                f"{project.version}'s examples: pip install -e '.[bench]'"
            )


# --- running ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One tool on one script."""

    equal: list[str] = field(default_factory=list)
    different: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    save: float = 0.0
    load: float = 0.0
    imports: float = 0.0  # importing the tool before its save and before its load

    @property
    def perfect(self) -> bool:
        return not self.different and not self.failed


@dataclass
class ScriptResult:
    id: str
    gallery: bool = True
    error: str = ""
    names: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)  # not comparable, and why
    tools: dict[str, Outcome] = field(default_factory=dict)


def _child(mode: str, spec: Path, workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    out = workdir / f"{mode}.json"
    out.unlink(missing_ok=True)
    with (workdir / f"{mode}.log").open("w") as log:
        try:
            subprocess.run(
                [sys.executable, str(HERE / "corpus_child.py"), mode, str(spec), str(out)],
                env=env,
                cwd=workdir,
                stdout=log,
                stderr=log,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {TIMEOUT} s"}
    if not out.exists():
        tail = (workdir / f"{mode}.log").read_text(errors="replace").strip().splitlines()[-1:]
        return {"error": f"the {mode} process died: {' '.join(tail)[:300]}"}
    return json.loads(out.read_text())


def _compare(saved: dict[str, Any], tool: str, loaded: dict[str, Any], names: list[str]) -> Outcome:
    out = Outcome()
    save_part = saved.get(tool, {})
    out.save = save_part.get("seconds", 0.0)
    out.load = loaded.get("seconds", 0.0)
    out.imports = save_part.get("import_seconds", 0.0) + loaded.get("import_seconds", 0.0)
    skipped = save_part.get("skipped", {})
    for name in names:
        before = saved["fingerprints"][name]
        after = loaded.get("fingerprints", {}).get(name)
        if "error" in save_part:
            out.failed[name] = f"save failed: {save_part['error']}"
        elif name in skipped:
            out.failed[name] = f"not saved: {skipped[name]}"
        elif "error" in loaded:
            out.failed[name] = f"load failed: {loaded['error']}"
        elif name in loaded.get("failed", {}):
            out.failed[name] = f"not loaded: {loaded['failed'][name]}"
        elif name in loaded.get("unfingerprintable", {}):
            out.failed[name] = f"loaded value breaks: {loaded['unfingerprintable'][name]}"
        elif after is None:
            out.failed[name] = "missing after load"
        elif after["digest"] == before["digest"]:
            out.equal.append(name)
        else:
            where = where_different(before["paths"], after["paths"])
            out.different[name] = "differs at " + (", ".join(where) or "the top")
    return out


def run_script(script_id: str, path: Path, index: int, keep: bool, gallery: bool) -> ScriptResult:
    workdir = WORK / "run" / script_id.replace("/", "__").removesuffix(".py")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        MPLBACKEND="Agg",
        SESSIONS_HOME=str(workdir / "sessions-home"),
        SESSIONS_CONFIG_DIR=str(WORK / "config"),
        PYTHONWARNINGS="ignore",
    )
    env.pop("PYTHONSTARTUP", None)
    # as an installed package is: compiled once, not on every import (both tools alike)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    order = list(TOOLS) if index % 2 == 0 else list(reversed(TOOLS))
    spec = {
        "script": str(path),
        "workdir": str(workdir),
        "dill_file": str(workdir / "session.dill"),
        "order": order,
    }
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    result = ScriptResult(script_id, gallery)
    saved = _child("save", spec_path, workdir, env)
    if "error" in saved:
        result.error = f"the script did not run: {saved['error']}"
        return result
    result.excluded.update(
        {n: f"cannot fingerprint: {r}" for n, r in saved["unfingerprintable"].items()}
    )
    result.excluded.update({n: "saving changed its fingerprint" for n in saved["unstable"]})
    result.names = [n for n in saved["fingerprints"] if n not in result.excluded]
    spec["names"] = result.names
    spec_path.write_text(json.dumps(spec))
    for tool in TOOLS:
        loaded = _child(f"load-{tool}", spec_path, workdir, env)
        result.tools[tool] = _compare(saved, tool, loaded, result.names)
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def warm_up(env_home: Path) -> None:
    """Make the signing key once, as a user's first ever save would, outside the timings."""
    env = dict(os.environ, SESSIONS_HOME=str(env_home), SESSIONS_CONFIG_DIR=str(WORK / "config"))
    code = "import sessions\nx = 1\nsessions.save('warm-up')\n"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    shutil.rmtree(env_home, ignore_errors=True)


# --- report -------------------------------------------------------------------------------


def _summary(results: list[ScriptResult]) -> dict[str, dict[str, float]]:
    ran = [r for r in results if not r.error]
    out = {}
    for tool in TOOLS:
        outcomes = [r.tools[tool] for r in ran]
        out[tool] = {
            "perfect": sum(o.perfect for o in outcomes),
            "equal": sum(len(o.equal) for o in outcomes),
            "different": sum(len(o.different) for o in outcomes),
            "failed": sum(len(o.failed) for o in outcomes),
            "save": sum(o.save for o in outcomes),
            "load": sum(o.load for o in outcomes),
            "imports": sum(o.imports for o in outcomes),
        }
    return out


def _reason(outcome: Outcome, name: str) -> str:
    return outcome.failed.get(name) or outcome.different.get(name) or "equal"


def report(results: list[ScriptResult], subset: bool, gallery: bool) -> str:
    ran = [r for r in results if not r.error]
    summary = _summary(results)
    projects = ", ".join(
        f"{p.dist} {p.version} ({len(p.scripts)})" for p in PROJECTS if p.gallery == gallery
    )
    lines = [
        run_line("corpus.py") + (" Subset run." if subset else ""),
        "",
        f"{len(ran)} of {len(results)} scripts ran, from {projects}; "
        f"{sum(len(r.names) for r in ran)} variables compared.",
        "",
        "| tool | scripts perfect | variables equal | different | failed | save (s, summed) | load (s, summed) | imports (s, summed) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for tool in TOOLS:
        s = summary[tool]
        lines.append(
            f"| {tool} | {s['perfect']}/{len(ran)} | {s['equal']} | {s['different']} | "
            f"{s['failed']} | {s['save']:.2f} | {s['load']:.2f} | {s['imports']:.2f} |"
        )
    ours, theirs = summary["sessions"], summary["dill"]
    if theirs["save"] and theirs["load"] and ours["save"] and ours["load"]:
        lines += [
            "",
            f"Sessions against dill: save {theirs['save'] / ours['save']:.2f}× dill's speed, "
            f"load {theirs['load'] / ours['load']:.2f}× (above 1 is faster).",
        ]
        # a script whose whole save failed for one tool loads nothing for it: the sums above
        # charge the other tool for loading what it alone saved
        both = [r for r in ran if all(r.tools[t].equal or r.tools[t].different for t in TOOLS)]
        if len(both) < len(ran):
            mine = sum(r.tools["sessions"].load for r in both)
            dills = sum(r.tools["dill"].load for r in both)
            saves = [sum(r.tools[t].save for r in both) for t in ("sessions", "dill")]
            lines.append(
                f"On the {len(both)} scripts both tools saved and loaded: save {saves[0]:.2f} s "
                f"vs dill {saves[1]:.2f} s, load {mine:.2f} s vs dill {dills:.2f} s "
                f"({dills / mine:.2f}× dill's speed)."
            )
    for a, b in (("dill", "sessions"), ("sessions", "dill")):
        rows = []
        for r in ran:
            for name in r.names:
                if name in r.tools[a].equal and name not in r.tools[b].equal:
                    rows.append(f"| {r.id} | `{name}` | {_reason(r.tools[b], name)} |")
        lines += ["", f"Variables {a} round-trips and {b} does not: {len(rows)}."]
        if rows:
            lines += ["", "| script | variable | " + b + " |", "| --- | --- | --- |", *rows]
    both = [
        f"| {r.id} | `{n}` | {_reason(r.tools['sessions'], n)} | {_reason(r.tools['dill'], n)} |"
        for r in ran
        for n in r.names
        if n not in r.tools["sessions"].equal and n not in r.tools["dill"].equal
    ]
    if both:
        lines += [
            "",
            f"Variables neither round-trips: {len(both)}.",
            "",
            "| script | variable | sessions | dill |",
            "| --- | --- | --- | --- |",
            *both,
        ]
    excluded = [f"{r.id} `{n}`: {why}" for r in ran for n, why in r.excluded.items()]
    if excluded:
        lines += ["", f"Left out of the comparison ({len(excluded)}): " + "; ".join(excluded) + "."]
    failed = [f"{r.id}: {r.error}" for r in results if r.error]
    if failed:
        lines += ["", "Scripts that did not run: " + "; ".join(failed) + "."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", default=[], help="scripts whose id contains this"
    )
    parser.add_argument("--limit", type=int, default=0, help="at most this many scripts")
    parser.add_argument("--keep", action="store_true", help="keep each script's work dir")
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = parser.parse_args()
    check_versions()
    chosen: list[tuple[str, Path, bool]] = []
    for project in PROJECTS:
        root = fetch(project)
        chosen += [(f"{project.key}/{s}", root / s, project.gallery) for s in project.scripts]
    if args.only:
        chosen = [c for c in chosen if any(word in c[0] for word in args.only)]
    if args.limit:
        chosen = chosen[: args.limit]
    subset = len(chosen) < sum(len(p.scripts) for p in PROJECTS)
    warm_up(WORK / "warm-up")
    results = []
    started = time.perf_counter()
    for index, (script_id, path, gallery) in enumerate(chosen):
        result = run_script(script_id, path, index, args.keep, gallery)
        results.append(result)
        if result.error:
            print(f"{script_id}: {result.error}", flush=True)
            continue
        marks = []
        for tool in TOOLS:
            o = result.tools[tool]
            marks.append(
                f"{tool} {'ok' if o.perfect else 'BAD'} {len(o.equal)}/{len(result.names)} "
                f"save {o.save:.2f} load {o.load:.2f}"
            )
            for name, why in {**o.failed, **o.different}.items():
                marks.append(f"    {tool} {name}: {why}")
        print(f"{script_id}: " + "\n  ".join(marks), flush=True)
    for gallery, title in ((True, "Corpus"), (False, "Corpus: dill's test suite shapes")):
        part = [r for r in results if r.gallery == gallery]
        if not part:
            continue
        text = report(part, subset, gallery)
        print(f"\n## {title}\n\n{text}")
        if not args.no_write and not subset:
            write_section(title, text)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
