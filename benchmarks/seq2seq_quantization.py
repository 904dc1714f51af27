"""Seq2seq bundles (`export_seq2seq_lm`) quantized: float16 and dynamic int8 against float32, greedy, one run.

    python benchmarks/seq2seq_quantization.py [--checkpoint tests/data/tiny_bart] [--max-length 16] [--max-source-length 48]

Exports the checkpoint's `Seq2SeqLM` (`from_hf(..., task="seq2seq_lm")`) three
times (float32, float16, dynamic_int8; each conversion in a child process),
then runs the `generate` signature greedily on 20 sources (framed by the
model's preprocessor: BART `<s> ... </s>`) with the end token as stop token.
Reports per mode: the file size and its ratio to float32, how many of the 20
outputs equal float32's exactly, and the token agreement: over all float32
output positions, the fraction where the quantized output has the same token
(a shorter output counts its missing positions as disagreements). float32 is
also compared with Keras `Seq2SeqLM.generate` (expected: 20/20).

A tiny random-weight checkpoint says little about a trained model's
agreement; it checks that the quantized bundles convert, run and stay close.

Measured 2026-12-03 on tests/data/tiny_bart (d_model 32, 2+3 layers, 100-token
vocabulary, random weights), max_length 16, 2 shared cores, 2 min in all:
float32 546 KB, 20/20 outputs equal to Keras; float16 432 KB (0.79 of
float32), 20/20 equal to float32; dynamic_int8 402 KB (0.74 of float32:
tensors under 1024 elements and the tokenizer tables stay float32 / as they
are), 7/20 outputs equal to float32, token agreement 0.8875.
"""

import argparse
import json
import os
import sys
import tempfile

# benchmarks/tokenizers.py would shadow the `tokenizers` package: take this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE]

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


SOURCES = [
    "The model merges each pair.",
    "It's 2024, and they split it again!",
    "We token the layer of the model.",
    "a b c d e f",
    "The quick brown fox jumps over the lazy dog.",
    "GPT models split text into tokens.",
    "Each pair is merged again and again.",
    "They do not split numbers like 12 or 34.",
    "By the end, the model is at 202 tokens.",
    "Layer norm, attention, and the feed forward block.",
    "you and the model talk",
    "Numbers: 1, 2, 3, 12, 34, 2024.",
    "The content of the symbols is unicode: é, ü, 中文.",
    "At each step the best pair is merged.",
    "It is the merge of two tokens.",
    "We train the model on the text.",
    "the the the the the",
    "Split, merge, and detokenize.",
    "Quick tests on a tiny model.",
    "Is that all you need?",
]


def greedy(runner, source_ids, max_new_tokens, end_token_id):
    from kerasnlp_lite.export import run_seq2seq_generate

    return run_seq2seq_generate(runner, source_ids, max_new_tokens, stop_token_ids=[end_token_id]).tolist()


def agreement(reference, other):
    """(same tokens at the reference's positions, reference positions)."""
    same = sum(1 for i, token in enumerate(reference) if i < len(other) and other[i] == token)
    return same, len(reference)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=os.path.join(os.path.dirname(_HERE), "tests", "data", "tiny_bart"))
    parser.add_argument("--max-length", type=int, default=16, help="decoder tokens, the start token included")
    parser.add_argument("--max-source-length", type=int, default=48, help="the tiny BART's position limit")
    args = parser.parse_args(argv)

    from kerasnlp_lite.checkpoints import from_hf
    from kerasnlp_lite.export import LiteRunner, export_seq2seq_lm

    lm = from_hf(args.checkpoint, task="seq2seq_lm")
    preprocessor = lm.preprocessor
    sources = []
    for text in SOURCES:
        inputs = preprocessor.encoder_inputs([text])
        row = inputs["encoder_token_ids"][0][inputs["encoder_padding_mask"][0].astype(bool)]
        if len(row) > args.max_source_length:  # never truncate silently: Keras would see the whole source
            parser.error(f"{text!r} has {len(row)} source tokens > --max-source-length {args.max_source_length}")
        sources.append(row.tolist())
    end = int(lm.end_token_id)
    keras_ids = []
    for text, source in zip(SOURCES, sources):
        out = lm.generate(preprocessor.encoder_inputs([text]), max_length=args.max_length, stop_token_ids=[end])
        keras_ids.append(out["token_ids"][0][out["padding_mask"][0].astype(bool)].tolist())

    results, outputs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in (None, "float16", "dynamic_int8"):
            name = mode or "float32"
            report = export_seq2seq_lm(lm, os.path.join(tmp, f"{name}.tflite"), max_length=args.max_length,
                                       max_source_length=args.max_source_length, quantize=mode)
            runner = LiteRunner(report.path)
            outputs[name] = [greedy(runner, source, args.max_length - 1, end) for source in sources]
            results[name] = {"size_bytes": report.size_bytes}
    reference = outputs["float32"]
    for name, rows in outputs.items():
        same = total = 0
        for ref, row in zip(reference, rows):
            s, t = agreement(ref, row)
            same, total = same + s, total + t
        results[name].update(
            size_ratio=round(results[name]["size_bytes"] / results["float32"]["size_bytes"], 3),
            exact_vs_float32=f"{sum(r == f for r, f in zip(rows, reference))}/{len(rows)}",
            token_agreement_vs_float32=round(same / total, 4),
        )
    results["float32"]["exact_vs_keras"] = f"{sum(r == k for r, k in zip(reference, keras_ids))}/{len(keras_ids)}"
    print(json.dumps({"checkpoint": args.checkpoint, "max_length": args.max_length, "sources": len(SOURCES),
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
