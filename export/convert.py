#!/usr/bin/env python3
"""Convert a `.keras` model to TFLite with builtin ops only, then check and time it.

    python export/convert.py model.keras model.tflite [--quantize dynamic_int8]

Loads the model in Keras safe mode, converts in a child process (the converter
leaks memory), refuses Flex ops, and prints the ops, the size and the
median latency of one run on random inputs with the LiteRT interpreter.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keras_path")
    parser.add_argument("tflite_path")
    parser.add_argument("--quantize", choices=["float16", "dynamic_int8"], default=None)
    parser.add_argument("--runs", type=int, default=20, help="timed runs on random inputs (default: %(default)s)")
    args = parser.parse_args(argv)

    import numpy as np

    from kerasnlp_lite.export.tflite import convert_in_subprocess, make_interpreter, tflite_op_names

    convert_in_subprocess(args.keras_path, args.tflite_path, quantize=args.quantize)
    with open(args.tflite_path, "rb") as f:
        content = f.read()
    interpreter = make_interpreter(model_content=content)
    signature = next(iter(interpreter.get_signature_list()))
    runner = interpreter.get_signature_runner(signature)
    rng = np.random.default_rng(0)
    inputs = {}
    for name, detail in runner.get_input_details().items():
        shape = [d if d > 0 else 1 for d in detail["shape_signature"]]
        if np.issubdtype(detail["dtype"], np.integer):
            inputs[name] = rng.integers(0, 2, size=shape).astype(detail["dtype"])
        else:
            inputs[name] = rng.standard_normal(shape).astype(detail["dtype"])
    latencies = []
    for _ in range(max(1, args.runs)):
        start = time.perf_counter()
        runner(**inputs)
        latencies.append(time.perf_counter() - start)
    print(json.dumps({
        "tflite_path": args.tflite_path,
        "size_bytes": len(content),
        "ops": sorted(set(tflite_op_names(content))),
        "signature": signature,
        "median_latency_ms": round(1000 * float(np.median(latencies)), 3),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
