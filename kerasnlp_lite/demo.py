"""The main job: train a tiny model on built-in data, export it, run it on-device.

Until the text-in/text-out export lands, the demo is a small Transformer
encoder classifier on the synthetic "does the first token repeat" task: it
needs attention across positions, trains in seconds on a CPU, and its TFLite
export must agree with Keras.
"""

import json
import os
import time

import keras
import numpy as np

from kerasnlp_lite.data import first_token_repeats_task
from kerasnlp_lite.export.tflite import convert_in_subprocess, make_interpreter, tflite_op_names
from kerasnlp_lite.layers import TextEmbedding, TransformerEncoderBlock


def build_encoder_classifier(vocabulary_size, sequence_length, hidden_dim=32, num_layers=2, num_heads=4, num_classes=2):
    """A small BERT-shaped classifier built from the library's layers."""
    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    padding_mask = keras.Input((sequence_length,), dtype="int32", name="padding_mask")
    x = TextEmbedding(
        vocabulary_size=vocabulary_size,
        hidden_dim=hidden_dim,
        max_sequence_length=sequence_length,
        use_layer_norm=True,
        name="embedding",
    )(token_ids)
    for i in range(num_layers):
        x = TransformerEncoderBlock(
            num_heads=num_heads, intermediate_dim=2 * hidden_dim, name=f"encoder_block_{i}"
        )(x, padding_mask=padding_mask)
    # The first position summarises the sequence, as BERT's [CLS] does.
    first = x[:, 0, :]
    logits = keras.layers.Dense(num_classes, name="logits")(first)
    return keras.Model({"token_ids": token_ids, "padding_mask": padding_mask}, logits, name="encoder_classifier")


def run_demo(out_dir="kerasnlp_lite_demo", epochs=8, seed=0, verbose=1):
    """Trains, exports and runs the demo model; returns a report dict."""
    keras.utils.set_random_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    sequence_length, vocabulary_size = 16, 24
    train = first_token_repeats_task(4000, sequence_length, vocabulary_size, seed=seed)
    test = first_token_repeats_task(500, sequence_length, vocabulary_size, seed=seed + 1)
    features = lambda data: {"token_ids": data["token_ids"], "padding_mask": data["padding_mask"]}  # noqa: E731

    model = build_encoder_classifier(vocabulary_size, sequence_length)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    model.fit(features(train), train["labels"], batch_size=64, epochs=epochs, verbose=2 if verbose else 0)
    train_seconds = time.time() - start
    keras_logits = model.predict(features(test), batch_size=100, verbose=0)
    keras_accuracy = float(np.mean(np.argmax(keras_logits, -1) == test["labels"]))

    keras_path = os.path.join(out_dir, "encoder_classifier.keras")
    tflite_path = os.path.join(out_dir, "encoder_classifier.tflite")
    model.save(keras_path)
    convert_in_subprocess(keras_path, tflite_path)
    with open(tflite_path, "rb") as f:
        content = f.read()

    # On-device: the LiteRT interpreter, one example at a time as a phone would.
    interpreter = make_interpreter(model_content=content, num_threads=1)
    runner = interpreter.get_signature_runner("serving_default")
    lite_logits, latencies = [], []
    for i in range(len(test["labels"])):
        start = time.perf_counter()
        outputs = runner(token_ids=test["token_ids"][i : i + 1], padding_mask=test["padding_mask"][i : i + 1])
        latencies.append(time.perf_counter() - start)
        lite_logits.append(next(iter(outputs.values()))[0])
    lite_logits = np.stack(lite_logits)
    report = {
        "train_seconds": round(train_seconds, 1),
        "keras_test_accuracy": keras_accuracy,
        "tflite_test_accuracy": float(np.mean(np.argmax(lite_logits, -1) == test["labels"])),
        "tflite_keras_prediction_agreement": float(np.mean(np.argmax(lite_logits, -1) == np.argmax(keras_logits, -1))),
        "tflite_keras_max_abs_diff": float(np.max(np.abs(lite_logits - keras_logits))),
        "tflite_size_bytes": len(content),
        "tflite_median_latency_ms": round(1000 * float(np.median(latencies)), 3),
        "tflite_ops": sorted(set(tflite_op_names(content))),
        "artifacts": {"keras": keras_path, "tflite": tflite_path},
    }
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    return report
