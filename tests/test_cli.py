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
def test_demo_trains_exports_and_matches_on_device(tmp_path):
    from kerasnlp_lite.demo import run_demo

    report = run_demo(out_dir=str(tmp_path), epochs=6, verbose=0)
    assert report["keras_test_accuracy"] >= 0.9, report
    assert report["tflite_keras_prediction_agreement"] >= 0.99, report
    assert report["tflite_keras_max_abs_diff"] <= 1e-4, report
    assert not [op for op in report["tflite_ops"] if not op.isupper()], report["tflite_ops"]
    assert os.path.exists(os.path.join(tmp_path, "report.json"))


@pytest.mark.slow
def test_cached_decoding_example_runs():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "cached_decoding.py")],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TFLite" in result.stdout
