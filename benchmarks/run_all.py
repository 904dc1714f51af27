"""Runs every benchmark in this folder and writes one JSON of all ratios and a bar chart.

    python benchmarks/run_all.py [--quick] [--only encoders training] [--out benchmarks/results]

Every `benchmarks/*.py` module that defines `run(quick=False) -> dict` takes
part. `run` returns `{"rows": [...]}`, each row a dict with `name`, `ours`,
`anchor`, `ratio` (ours / anchor) and `unit`, optionally `goal` (the ratio
issue #19 asks for) and `better` ("lower" for times, "higher" for
throughput), plus any settings worth keeping. A row whose `ratio` is None is
informational (a file size, a prefill time): kept in the JSON, not charted.
Where a goal is absolute (on-device tokens/s), the row's `anchor` is that goal
and `anchor_is_goal` is true. Each module runs in its own
child process (a fresh TensorFlow: dtype policies, thread pools and leaked
converter memory do not carry over) and a module that fails is recorded
under `errors` instead of stopping the others.

Writes `<out>/latest.json` (date, machine facts: cores, CPU flags, load
average before and after, package versions, then the rows) and
`<out>/latest.png` (one bar per ratio, a line at 1 and a mark at each
row's goal) with matplotlib when it is installed, otherwise with
`kerasnlp_lite.utils.plot.save_bar_chart`.

`TF_ENABLE_ONEDNN_OPTS` is set to 1 for every child unless already set:
TensorFlow turns oneDNN on by default only on CPUs with AVX-512 VNNI or AMX,
and on the others (this AVX2 machine) it roughly halves a float32 matmul's
time for ours and the anchors alike. `--onednn 0` keeps TensorFlow's default.
"""

import argparse
import datetime
import glob
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGES = ("tensorflow", "keras", "keras-hub", "tf-models-official", "tensorflow-text", "ai-edge-litert", "numpy")
CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")
ROW_KEYS = ("name", "ours", "anchor", "ratio", "unit")


def machine_facts():
    """Cores, CPU model and the flags that decide matmul speed, versions, load: no TensorFlow import."""
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model,
        "cpu_flags": [flag for flag in CPU_FLAGS if flag in flags],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
    }


def load_average():
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def benchmark_modules(directory, only=None):
    """Paths of the modules in `directory` that define a top-level `def run(`, sorted by name."""
    paths = []
    for path in sorted(glob.glob(os.path.join(directory, "*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if name.startswith("_") or name == "run_all" or (only and name not in only):
            continue
        with open(path, encoding="utf-8") as f:
            if any(line.startswith("def run(") for line in f):
                paths.append(path)
    return paths


def check_rows(result, module):
    """The `rows` of one module's `run` result; ValueError naming the module and what is wrong."""
    if not isinstance(result, dict) or not isinstance(result.get("rows"), list):
        raise ValueError(f"{module}.run() must return a dict with a list under 'rows', got {type(result).__name__}.")
    for row in result["rows"]:
        missing = [key for key in ROW_KEYS if key not in row] if isinstance(row, dict) else list(ROW_KEYS)
        if missing:
            raise ValueError(f"{module}.run() returned a row without {missing}: {row!r}.")
        row.setdefault("module", module)
    return result["rows"]


def run_child(path, quick, result_path):
    """In the child process: import `path` under a private name and write its `run` result as JSON."""
    # This folder holds a `tokenizers.py`, which would shadow the HF `tokenizers` package: keep it
    # off the import path and import each module by file under a private name.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(path))]
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(f"_benchmark_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run(quick=quick)
    check_rows(result, name)
    with open(result_path, "w") as f:
        json.dump(result, f, default=float)


def run_module(path, quick, timeout):
    """Runs one module's `run` in a child process; returns (rows, None) or ([], an error message)."""
    name = os.path.splitext(os.path.basename(path))[0]
    with tempfile.TemporaryDirectory() as tmp:
        result_path = os.path.join(tmp, "result.json")
        command = [sys.executable, os.path.abspath(__file__), "--child", path, "--child-result", result_path]
        if quick:
            command.append("--quick")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [], f"{name}: timed out after {timeout} s"
        sys.stderr.write(done.stderr[-4000:] if done.returncode else "")
        if done.returncode != 0 or not os.path.exists(result_path):
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return [], f"{name}: exit {done.returncode}: {tail[0]}"
        with open(result_path) as f:
            return check_rows(json.load(f), name), None


def charted(rows):
    """The rows with a ratio: informational rows (`ratio` None: a file size, a prefill time) stay in the JSON only."""
    return [row for row in rows if row.get("ratio") is not None]


def describe(row):
    ratio = "-" if row.get("ratio") is None else f"{float(row['ratio']):.3f}"
    goal = "" if row.get("goal") is None else f", goal {row['goal']}"
    return f"  {row['name']}: ratio {ratio}{goal} ({row['ours']} vs {row['anchor']} {row['unit']})"


def draw_chart(rows, path, use_matplotlib=True):
    """One bar per row's ratio, a line at 1 and a short mark at each row's `goal`; writes `path` (PNG)."""
    rows = charted(rows)
    labels = [row["name"] for row in rows]
    ratios = [float(row["ratio"]) for row in rows]
    goals = [row.get("goal") for row in rows]
    if use_matplotlib:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            use_matplotlib = False
    if not use_matplotlib:
        from kerasnlp_lite.utils.plot import save_bar_chart

        return save_bar_chart(ratios, path, goals=goals)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(rows) + 2.0), 5.0))
    colors = []
    for row in rows:
        goal, ratio = row.get("goal"), float(row["ratio"])
        met = goal is not None and (ratio >= goal if row.get("better") == "higher" else ratio <= goal)
        colors.append("tab:green" if met else "tab:blue")
    positions = range(len(rows))
    ax.bar(positions, ratios, color=colors)
    ax.axhline(1.0, color="black", linewidth=0.8)
    for x, goal in zip(positions, goals):
        if goal is not None:
            ax.hlines(goal, x - 0.45, x + 0.45, colors="tab:red", linewidth=2)
    ax.set_xticks(list(positions))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("ours / anchor")
    ax.set_title("kerasnlp_lite / anchor (time: lower is better, tokens/s: higher)\nred: goal of issue #19; green: goal met", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes and few repeats: a smoke run")
    parser.add_argument("--only", nargs="+", help="module names to run (default: all with `run`)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="folder of latest.json / latest.png")
    parser.add_argument("--benchmarks-dir", default=HERE, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per module")
    parser.add_argument("--onednn", choices=("0", "1"), default=None, help="TF_ENABLE_ONEDNN_OPTS (default 1)")
    parser.add_argument("--no-matplotlib", action="store_true", help="draw with kerasnlp_lite.utils.plot")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.quick, args.child_result)

    if args.onednn is not None:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = args.onednn
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    paths = benchmark_modules(args.benchmarks_dir, args.only)
    if not paths:
        raise SystemExit(f"No module with a `run` function in {args.benchmarks_dir} (only={args.only}).")
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine_facts(),
        "load_average_before": load_average(),
        "rows": [],
        "errors": [],
    }
    for path in paths:
        print(f"running {os.path.basename(path)} ...", flush=True)
        rows, error = run_module(path, args.quick, args.timeout)
        report["rows"].extend(rows)
        if error:
            report["errors"].append(error)
            print(f"  failed: {error}", flush=True)
        for row in rows:
            print(describe(row), flush=True)
    report["load_average_after"] = load_average()
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(args.out, "latest.json")
    with open(json_path, "w") as f:
        json.dump(report, f, indent=2, default=float)
    png_path = os.path.join(args.out, "latest.png")
    if charted(report["rows"]):
        draw_chart(report["rows"], png_path, use_matplotlib=not args.no_matplotlib)
    print(f"wrote {json_path}" + (f" and {png_path}" if charted(report["rows"]) else " (no ratios: no chart)"))
    return report


if __name__ == "__main__":
    main()
