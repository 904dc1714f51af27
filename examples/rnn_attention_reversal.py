"""Attention vs a fixed-length context on sequence reversal (Bahdanau et al. 2015's point, in miniature).

Trains two LSTM encoder-decoders on the built-in synthetic reversal task
(sources of 20-30 random tokens) with the same encoder, decoder width and
budget: one squeezes the source into the encoder's final state (Sutskever
et al. 2014), the other attends over all encoder states at every step
(Luong et al. 2015, "general" score). Prints greedy exact match (whole
output sequence, EOS included) on held-out examples for both.

    python examples/rnn_attention_reversal.py            # the issue's setting
    python examples/rnn_attention_reversal.py --min-length 5 --max-length 8 --epochs 3

Measured with the defaults (20000 training examples, 10 epochs of batch 64,
bidirectional LSTM encoder 2 x 64, LSTM decoder 128; 2 shared CPU cores):
greedy exact match on 500 held-out examples 1.000 with attention (train
251 s) and 0.014 without (train 216 s, final loss 0.54 vs 0.0003); beam 4's
log-probability >= greedy's on 100/100 held-out examples.
"""

import argparse
import time

import keras
import numpy as np

from kerasnlp_lite.data.synthetic import reverse_task
from kerasnlp_lite.models.rnn import RNNSeq2Seq

VOCABULARY_SIZE = 16  # [PAD] [BOS] [EOS] + 13 content tokens


def exact_match(model, data, batch_size=250, sampler="greedy"):
    """Fraction of examples whose generated sequence equals `target_ids` exactly."""
    max_length = data["target_ids"].shape[1]
    hits = 0
    for start in range(0, len(data["source_ids"]), batch_size):
        chunk = slice(start, start + batch_size)
        out = model.generate(
            data["source_ids"][chunk], max_length=max_length, sampler=sampler,
            source_padding_mask=data["source_padding_mask"][chunk],
        )
        hits += int(np.sum(np.all(out["token_ids"] == data["target_ids"][chunk], axis=1)))
    return hits / len(data["source_ids"])


def build_model(attention, units=64, decoder_units=128, embedding_dim=32):
    return RNNSeq2Seq(
        vocabulary_size=VOCABULARY_SIZE,
        embedding_dim=embedding_dim,
        encoder=dict(units=units, cell="lstm", bidirectional=True),
        decoder_units=decoder_units,
        attention=attention,
    )


def run(min_length=20, max_length=30, num_train=20000, num_test=500, epochs=10, batch_size=64,
        learning_rate=2e-3, units=64, decoder_units=128, seed=0, verbose=1):
    """Trains the attention and no-attention models; returns their exact match and times."""
    train = reverse_task(num_train, min_length, max_length, VOCABULARY_SIZE, seed=seed)
    test = reverse_task(num_test, min_length, max_length, VOCABULARY_SIZE, seed=seed + 1)
    inputs = lambda d: {k: d[k] for k in ("source_ids", "source_padding_mask", "decoder_input_ids")}  # noqa: E731
    results = {}
    for name, attention in (("attention", "general"), ("no_attention", None)):
        keras.utils.set_random_seed(seed)
        model = build_model(attention, units, decoder_units)
        steps = epochs * (num_train // batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.05)
        model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0))
        start = time.time()
        history = model.fit(inputs(train), train["target_ids"], batch_size=batch_size, epochs=epochs, verbose=verbose)
        train_seconds = time.time() - start
        start = time.time()
        match = exact_match(model, test)
        results[name] = {
            "exact_match": match,
            "train_seconds": train_seconds,
            "eval_seconds": time.time() - start,
            "final_loss": float(history.history["loss"][-1]),
            "model": model,
        }
        if verbose:
            print(f"{name}: exact match {match:.3f}, train {train_seconds:.0f} s, final loss {results[name]['final_loss']:.4f}")
    return results, test


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--min-length", type=int, default=20)
    parser.add_argument("--max-length", type=int, default=30)
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--num-test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--beam-check", type=int, default=100, help="held-out examples to compare beam 4 with greedy")
    args = parser.parse_args()
    results, test = run(args.min_length, args.max_length, args.num_train, args.num_test, args.epochs, verbose=2)
    model = results["attention"]["model"]
    subset = {k: v[: args.beam_check] for k, v in test.items()}
    greedy = model.generate(subset["source_ids"], subset["target_ids"].shape[1])
    beam = model.generate(subset["source_ids"], subset["target_ids"].shape[1], sampler="beam", num_beams=4)
    print(f"beam 4 log-prob >= greedy's on {np.mean(beam['scores'] >= greedy['scores'] - 1e-4):.3f} of {args.beam_check}; "
          f"beam exact match {np.mean(np.all(beam['token_ids'] == subset['target_ids'], axis=1)):.3f}")
    for name in ("attention", "no_attention"):
        r = results[name]
        print(f"{name:>12}: greedy exact match {r['exact_match']:.3f} on {args.num_test} held-out "
              f"(train {r['train_seconds']:.0f} s, eval {r['eval_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
