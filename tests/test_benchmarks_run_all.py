"""benchmarks/run_all.py: discovers `run` modules, collects their rows into JSON, draws a PNG.

Fake benchmark modules stand in for the real ones (which import TensorFlow and
the anchors and take minutes): each runs in a child Python like a real one.
"""

import importlib.util
import json
import os
import struct
import zlib

import pytest

RUN_ALL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "run_all.py")

FAKE = '''
def run(quick=False):
    # The ratio depends on `quick`, so the test sees that --quick reached the module.
    return {"rows": [
        {"name": "fake forward", "ours": 0.5, "anchor": 1.0, "ratio": 0.5 if quick else 0.7, "unit": "s",
         "goal": 0.8, "better": "lower"},
        {"name": "fake train", "ours": 150.0, "anchor": 100.0, "ratio": 1.5, "unit": "tokens/s",
         "goal": 1.2, "better": "higher"},
        {"name": "fake file size", "ours": 129.1, "anchor": None, "ratio": None, "unit": "MB"},
    ]}
'''
BROKEN = 'def run(quick=False):\n    raise RuntimeError("boom in the benchmark")\n'
BAD_ROWS = 'def run(quick=False):\n    return {"rows": [{"name": "no ratio", "ours": 1.0}]}\n'
NOT_A_BENCHMARK = "VALUE = 1\n"


def load_run_all():
    spec = importlib.util.spec_from_file_location("_run_all_under_test", RUN_ALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(path):
    """Width and height from the IHDR chunk, after checking the signature and that IDAT inflates."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8 : start - 4])[0]
    assert len(zlib.decompress(data[start : start + length])) > 0
    return width, height


@pytest.fixture
def benchmarks_dir(tmp_path):
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    for name, text in (("fake", FAKE), ("broken", BROKEN), ("bad_rows", BAD_ROWS), ("helpers", NOT_A_BENCHMARK)):
        (folder / f"{name}.py").write_text(text)
    return folder


@pytest.mark.parametrize("use_matplotlib", [True, False])
def test_collector_writes_json_and_png(benchmarks_dir, tmp_path, use_matplotlib):
    if use_matplotlib:
        pytest.importorskip("matplotlib")
    out = tmp_path / "results"
    argv = ["--quick", "--benchmarks-dir", str(benchmarks_dir), "--out", str(out)]
    load_run_all().main(argv + ([] if use_matplotlib else ["--no-matplotlib"]))

    report = json.loads((out / "latest.json").read_text())
    assert report["quick"] is True
    # An informational row (ratio None) is kept in the JSON; the chart draws the other two.
    assert [row["name"] for row in report["rows"]] == ["fake forward", "fake train", "fake file size"]
    assert report["rows"][0]["ratio"] == 0.5 and report["rows"][0]["module"] == "fake"
    machine = report["machine"]
    assert machine["cpu_count"] >= 1 and isinstance(machine["cpu_flags"], list)
    assert "tensorflow" in machine["versions"] and machine["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert report["date"] and len(report["load_average_before"]) == 3
    # A failing module and a malformed one are reported, not fatal; a module without `run` is skipped.
    errors = " ".join(report["errors"])
    assert len(report["errors"]) == 2 and "boom in the benchmark" in errors and "bad_rows" in errors
    assert "helpers" not in errors
    width, height = png_size(out / "latest.png")
    assert width >= 200 and height >= 120


def test_discovery_finds_the_real_benchmarks():
    run_all = load_run_all()
    names = [os.path.basename(p) for p in run_all.benchmark_modules(os.path.dirname(RUN_ALL))]
    assert "encoders.py" in names and "training.py" in names and "run_all.py" not in names


def test_malformed_result_names_the_module():
    run_all = load_run_all()
    with pytest.raises(ValueError, match="encoders.run\\(\\) returned a row without \\['ratio', 'unit'\\]"):
        run_all.check_rows({"rows": [{"name": "x", "ours": 1, "anchor": 2}]}, "encoders")
    with pytest.raises(ValueError, match="must return a dict with a list under 'rows'"):
        run_all.check_rows([1, 2], "encoders")
