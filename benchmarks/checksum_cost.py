"""What the weights checksum costs: `LiteRunner` load time with and without verifying it, on a large file.

The file: a stack of float32 Dense layers (2048 -> 8192 -> 8192 -> 2048, about 100M parameters, ~400 MB,
the size class of GPT-2 small's float32 bundle), converted once in a child process by `convert_in_subprocess`
(whose writer stamps the checksum). Then, `--repeats` times in turn (the machine may be shared: medians and
the spread are reported):

- `weights_checksum` alone (the sha256 pass `LiteRunner` adds);
- `stamp_checksum` on the stamped file (in place; the first stamp of a file rebuilds the flatbuffer);
- `LiteRunner(path)`: the whole load (read the file, op list, metadata, checksum, interpreter, signatures).

    python benchmarks/checksum_cost.py [--tflite FILE] [--repeats 5] [--json out.json]

`--tflite` measures an existing file instead (e.g. a GPT-2-small bundle from benchmarks/export.py).
"""

import argparse
import json
import os
import statistics
import tempfile
import time


def build_large_tflite(directory, width=2048, hidden=8192):
    """A ~400 MB float32 `.tflite` of Dense layers, converted in a child process; returns its path."""
    import keras

    from kerasnlp_lite.export.tflite import convert_in_subprocess

    inputs = keras.Input((width,), batch_size=1)
    x = keras.layers.Dense(hidden, activation="relu")(inputs)
    x = keras.layers.Dense(hidden, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(width)(x))
    keras_path = os.path.join(directory, "large.keras")
    model.save(keras_path)
    return convert_in_subprocess(keras_path, os.path.join(directory, "large.tflite"), timeout=1200)


def _timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def measure(path, repeats):
    from kerasnlp_lite.export.format import stamp_checksum, weights_checksum
    from kerasnlp_lite.export.runner import LiteRunner

    with open(path, "rb") as f:
        content = f.read()
    rounds = {"checksum_s": [], "stamp_s": [], "load_s": []}
    for _ in range(repeats):  # alternate the three, so a noisy neighbour hits them alike
        rounds["checksum_s"] += _timed(lambda: weights_checksum(content), 1)
        rounds["stamp_s"] += _timed(lambda: stamp_checksum(content), 1)  # in place: the file has an entry
        rounds["load_s"] += _timed(lambda: LiteRunner(path), 1)
    summary = {"path": path, "size_bytes": len(content), "repeats": repeats,
               "num_bytes_hashed": weights_checksum(content)["num_bytes"]}
    for name, values in rounds.items():
        summary[name] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    summary["checksum_share_of_load"] = summary["checksum_s"]["median"] / summary["load_s"]["median"]
    summary["hash_mb_per_s"] = summary["num_bytes_hashed"] / 1e6 / summary["checksum_s"]["median"]
    return summary


def run(quick=False, tflite=None, repeats=None):
    """{"rows": [...]} for benchmarks/run_all.py: the checksum's time against the whole load time."""
    repeats = repeats or (2 if quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        path = tflite or build_large_tflite(tmp, hidden=2048 if quick else 8192)
        summary = measure(path, repeats)
    rows = [{
        "name": f"weights checksum vs LiteRunner load ({summary['size_bytes'] / 1e6:.0f} MB)",
        "ours": summary["checksum_s"]["median"], "anchor": summary["load_s"]["median"],
        "ratio": summary["checksum_share_of_load"], "unit": "s",
    }]
    return {"rows": rows, "summary": summary}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tflite", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    result = run(quick=args.quick, tflite=args.tflite, repeats=args.repeats)
    print(json.dumps(result["summary"], indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
