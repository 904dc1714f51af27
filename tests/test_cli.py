import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "kerasnlp_lite.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_info_lists_versions_layers_and_tftext_ops():
    result = _run("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["versions"]["tensorflow"].startswith("2.20")
    for layer in ("MultiHeadAttention", "TransformerEncoderBlock", "TransformerDecoderBlock", "TextEmbedding"):
        assert layer in info["layers"]
    assert "scaled_dot_product_attention" in info["layer_functions"]
    status = info["tftext_tflite_ops"]
    assert status["registered_with_litert"] is True
    assert "FastWordpieceTokenize" in status["ops"]


def test_unknown_command_fails_clearly():
    result = _run("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.slow
def test_demo_trains_exports_and_generates_the_same_text_on_device(tmp_path):
    from kerasnlp_lite.demo import run_demo

    report = run_demo(out_dir=str(tmp_path), steps=300, verbose=0)
    first, last = report["train_loss_first_last"]
    assert last < 0.5 * first, report["train_loss_first_last"]
    agree, total = report["greedy_prompts_identical_keras_vs_tflite"].split("/")
    assert agree == total and int(total) >= 5, report["greedy_prompts_identical_keras_vs_tflite"]
    for sample in report["samples"]:
        assert sample["tflite"] == sample["keras"] and sample["tflite"].startswith(sample["prompt"])
    assert {"tokenize", "prefill", "decode", "detokenize", "generate"} <= set(report["tflite_signatures"])
    assert not [op for op in report["tflite_ops"] if op.startswith("Flex")]
    assert report["tflite_decode_ms_per_token"] > 0
    for path in report["artifacts"].values():
        assert os.path.getsize(path) > 0
    with open(report["artifacts"]["loss_curve"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.exists(os.path.join(tmp_path, "report.json"))


@pytest.mark.slow
def test_export_command_writes_a_checked_tflite_file_and_a_saved_model(tmp_path):
    import keras
    import numpy as np
    import tensorflow as tf

    from kerasnlp_lite.models import BertBackbone, TextClassifier

    keras.utils.set_random_seed(0)
    classifier = TextClassifier(
        BertBackbone(vocabulary_size=40, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
                     max_sequence_length=16),
        num_classes=3,
    )
    keras_path = str(tmp_path / "classifier.keras")
    classifier.save(keras_path)
    result = _run("export", "--model", keras_path, "--format", "tflite", "--quantize", "dynamic_int8",
                  "--out", str(tmp_path / "out"), "--max-length", "16")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "serving_default" in result.stdout and "min cosine" in result.stdout, result.stdout
    assert os.path.getsize(tmp_path / "out" / "classifier.tflite") > 0
    result = _run("export", "--model", keras_path, "--format", "saved_model", "--out", str(tmp_path / "sm"))
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = tf.saved_model.load(str(tmp_path / "sm" / "classifier"))
    data = {name: np.ones((2, 16), "int32") for name in ("token_ids", "segment_ids", "padding_mask")}
    outputs = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in data.items()})
    np.testing.assert_allclose(
        next(iter(outputs.values())).numpy(), np.asarray(classifier(data)), atol=1e-5
    )


def test_export_command_bad_arguments(tmp_path):
    result = _run("export", "--model", str(tmp_path / "missing.keras"), "--out", str(tmp_path))
    assert result.returncode == 2 and "--model must be an existing .keras file" in result.stderr
    result = _run("export", "--model", "x.keras", "--out", str(tmp_path), "--quantize", "int4")
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.slow
def test_cached_decoding_example_runs():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "cached_decoding.py")],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TFLite" in result.stdout


def test_export_script_is_the_export_command():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "export", "convert.py"), "--help"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for flag in ("--model", "--format", "--quantize", "--out", "--max-length"):
        assert flag in result.stdout
