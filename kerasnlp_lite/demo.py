"""The main job: train a tiny GPT on built-in text, export it with its tokenizer and KV cache, run it on-device.

1. A unigram SentencePiece vocabulary is trained on the built-in corpus
   (docstrings of the Python standard library: no download).
2. A tiny GPT-2-style `CausalLM` is trained on a few hundred documents of it,
   packed into causal-LM blocks, with Keras' progress bar; the loss curve is
   written as a PNG.
3. The model is exported with `export_causal_lm` to one `.tflite` file with
   the signatures `tokenize`, `prefill`, `decode`, `detokenize` and
   `generate` (builtin ops + tf-text's SentencePiece kernels, no Flex).
4. `LiteRunner` (the `ai_edge_litert` interpreter, 1 thread) generates text
   from prompts taken from the training documents, and the demo compares it
   with `CausalLM.generate` in Keras, token for token, and times a cached
   decode step.
"""

import json
import os
import time

import keras
import numpy as np

from kerasnlp_lite.data.corpora import stdlib_corpus
from kerasnlp_lite.export import LiteRunner, export_causal_lm
from kerasnlp_lite.export.latency import decode_latency_ms
from kerasnlp_lite.models import CausalLM, GPTBackbone
from kerasnlp_lite.tokenizers import SentencePieceTokenizer
from kerasnlp_lite.training.data import builtin_blocks, example_order, train_builtin_tokenizer
from kerasnlp_lite.utils.plot import save_line_plot

VOCABULARY_DOCUMENTS, VOCABULARY_SIZE = 1500, 1024
SEQUENCE_LENGTH, MAX_LENGTH, BATCH = 64, 96, 16
MODEL = dict(num_layers=2, num_heads=4, hidden_dim=128, intermediate_dim=512, dropout=0.0)


class _BatchLosses(keras.callbacks.Callback):
    """Per-step training losses (Keras logs the running mean of the epoch; undo the mean)."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_epoch_begin(self, epoch, logs=None):
        self._mean, self._count = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        self._count += 1
        self.losses.append(self._count * mean - (self._count - 1) * self._mean)
        self._mean = mean


def _schedule(steps, peak):
    warmup = max(1, steps // 10)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps - warmup, warmup_target=peak, warmup_steps=warmup, alpha=0.1
    )


def run_demo(out_dir="kerasnlp_lite_demo", steps=600, train_documents=80, seed=0, verbose=1):
    """Trains, exports and runs the demo model; returns a report dict."""
    keras.utils.set_random_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    say = print if verbose else (lambda *args, **kwargs: None)

    say(f"[1/4] SentencePiece vocabulary ({VOCABULARY_SIZE} pieces) on the built-in corpus")
    tokenizer = SentencePieceTokenizer(train_builtin_tokenizer("causal_lm", VOCABULARY_SIZE, VOCABULARY_DOCUMENTS))
    texts = [" ".join(doc) for doc in stdlib_corpus(max_documents=train_documents)]
    blocks = builtin_blocks("causal_lm", tokenizer, SEQUENCE_LENGTH, train_documents)
    num_blocks = len(blocks["token_ids"])

    say(f"[2/4] Training a tiny GPT ({train_documents} documents, {num_blocks} blocks of {SEQUENCE_LENGTH} tokens, "
        f"{steps} steps)")
    lm = CausalLM(
        GPTBackbone(vocabulary_size=tokenizer.vocabulary_size, max_sequence_length=MAX_LENGTH, **MODEL),
        preprocessor=tokenizer,
    )
    lm.compile(optimizer=keras.optimizers.Adam(_schedule(steps, 2e-3), beta_2=0.99, global_clipnorm=1.0))
    order = example_order(num_blocks, steps * BATCH, seed)  # the blocks reshuffled pass after pass
    inputs = {"token_ids": blocks["token_ids"][order], "padding_mask": blocks["padding_mask"][order]}
    losses = _BatchLosses()
    start = time.time()
    epochs = 4
    lm.fit(
        inputs, blocks["labels"][order], batch_size=BATCH, epochs=epochs, steps_per_epoch=steps // epochs,
        callbacks=[losses], verbose=verbose,
    )
    train_seconds = time.time() - start
    keras_path = os.path.join(out_dir, "tiny_gpt.keras")
    lm.save(keras_path)
    plot_path = save_line_plot(losses.losses, os.path.join(out_dir, "training_loss.png"))

    say("[3/4] Exporting to TFLite with the tokenizer and the KV cache (a child process converts)")
    tflite_path = os.path.join(out_dir, "tiny_gpt.tflite")
    export = export_causal_lm(lm, tflite_path, max_length=MAX_LENGTH)

    say("[4/4] Generating on-device with LiteRunner (ai_edge_litert, 1 thread) and in Keras")
    runner = LiteRunner(tflite_path, num_threads=1)
    stop = [tokenizer.eos_token_id]
    prompts = [" ".join(text.split()[:3]) for text in texts[:: max(1, len(texts) // 6)][:6]]
    new_tokens = 32
    samples, agree, total = [], 0, 0
    for prompt in prompts:
        prompt_ids = runner.tokenize(prompt).tolist()
        lite_ids = runner.generate(prompt_ids, new_tokens, stop_token_ids=stop).tolist()
        keras_ids = lm.generate([prompt_ids], max_length=len(prompt_ids) + new_tokens, stop_token_ids=stop)
        keras_ids = [t for t, real in zip(keras_ids["token_ids"][0].tolist(), keras_ids["padding_mask"][0]) if real]
        agree += int(lite_ids == keras_ids)
        total += 1
        samples.append({
            "prompt": prompt,
            "tflite": runner.generate(prompt, new_tokens, stop_token_ids=stop),
            "keras": lm.generate(prompt, max_length=len(prompt_ids) + new_tokens, stop_token_ids=stop),
            "same_tokens": lite_ids == keras_ids,
        })
    latency = decode_latency_ms(runner, runner.tokenize(prompts[0]).tolist(), steps=16)
    report = {
        "train_seconds": round(train_seconds, 1),
        "train_loss_first_last": [round(losses.losses[0], 3), round(float(np.mean(losses.losses[-20:])), 3)],
        "samples": samples,
        "greedy_prompts_identical_keras_vs_tflite": f"{agree}/{total}",
        "tflite_size_bytes": export.size_bytes,
        "tflite_decode_ms_per_token": round(latency, 3),
        "tflite_signatures": sorted(export.signatures),
        "tflite_ops": sorted(export.ops),
        "artifacts": {"keras": keras_path, "tflite": tflite_path, "loss_curve": plot_path},
    }
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    return report
