import json
import os
import subprocess
import sys
import textwrap

import pytest

from kerasnlp_lite.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBCOMMANDS = ("info", "demo", "train", "export", "generate", "predict")
HEAVY_MODULES = ("tensorflow", "keras", "tensorflow_text", "ai_edge_litert")


def _run(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "kerasnlp_lite.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_help_and_parsing_import_no_tensorflow():
    # TensorFlow takes seconds to import: the parser and every --help must not need it.
    code = textwrap.dedent(f"""
        import json, sys
        from kerasnlp_lite.cli import build_parser, main
        for argv in [[], *([name] for name in {SUBCOMMANDS!r})]:
            try:
                main([*argv, "--help"])
            except SystemExit as exit:
                assert exit.code == 0, (argv, exit.code)
        parser, _ = build_parser()
        parser.parse_args(["train", "--model", "gpt2_tiny", "--steps", "30", "--out", "run"])
        parser.parse_args(["generate", "--model", "m.tflite", "--sampler", "top_k", "a prompt", "another"])
        parser.parse_args(["predict", "--model", "m.keras", "some text"])
        parser.parse_args(["export", "--model", "m.keras", "--out", "out"])
        print(json.dumps(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_console_script_help_imports_no_tensorflow():
    script = os.path.join(os.path.dirname(sys.executable), "kerasnlp-lite")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "kerasnlp_lite.cli"]
    for argv in ([], ["train"], ["generate"], ["predict"]):
        # PYTHONPROFILEIMPORTTIME lists every module the process imports on stderr.
        result = subprocess.run([*command, *argv, "--help"], capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, PYTHONPROFILEIMPORTTIME="1"))
        assert result.returncode == 0 and result.stdout.startswith("usage: kerasnlp-lite"), result.stderr[-3000:]
        lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
        imported = {line.rsplit("|", 1)[-1].strip() for line in lines}
        assert "kerasnlp_lite.cli" in imported
        assert not [name for name in imported if name.split(".")[0] in HEAVY_MODULES], argv
    result = subprocess.run([*command, "train", "--help"], capture_output=True, text=True, timeout=120)
    for derived in ("min(100, steps)", "min(50, steps // 10)"):
        assert derived in " ".join(result.stdout.split()), result.stdout


def test_info_lists_versions_layers_and_tftext_ops(capsys):
    # In this process (`--help` above is what needs a fresh one): the command, not its imports.
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
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

    # The demo's own knobs at their fast end: 120 steps on 40 documents (still 6 prompts) take the loss from
    # ~6.9 to ~1.4, far under the halving checked here; export and on-device generation are the full path.
    report = run_demo(out_dir=str(tmp_path), steps=120, train_documents=40, verbose=0)
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


# A tiny WordPiece vocabulary for text-in models.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + "the cat dog sat ran on a mat and is big red .".split()
TEXTS = ["the cat sat on a mat.", "a big red dog ran", "zebra"]


def _text_model(kind, seed=0, length=16, preprocessor=True):
    import keras

    from kerasnlp_lite.models import BertBackbone, TextClassifier, TextEmbedder, TextPreprocessor
    from kerasnlp_lite.tokenizers import SegmentPacker, WordPieceTokenizer

    keras.utils.set_random_seed(seed)
    backbone = BertBackbone(vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
                            max_sequence_length=length)
    text = None
    if preprocessor:
        text = TextPreprocessor(WordPieceTokenizer(VOCAB), SegmentPacker(length, start_value=2, end_value=3))
    if kind == "classifier":
        model = TextClassifier(backbone, num_classes=3, preprocessor=text)
        for weight in model.get_layer("classifier_head").weights:
            weight.assign(weight * 30.0)  # logits far from 0, so the probabilities differ
        return model
    return TextEmbedder(backbone, preprocessor=text)


def _softmax(logits):
    import numpy as np

    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def _predicted(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _refused(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in error and "Traceback" not in error, error


def test_generate_and_predict_refuse_wrong_files(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    (tmp_path / "garbage.tflite").write_bytes(b"not a flatbuffer" * 8)
    (tmp_path / "garbage.keras").write_bytes(b"not a zip file" * 8)
    for argv, message in [
        (["generate", "--model", str(tmp_path / "missing.keras"), "hi"], "no file at"),
        (["predict", "--model", str(notes), "hi"], "--model must be a .keras or .tflite file"),
        (["predict", "--model", str(tmp_path / "garbage.tflite"), "hi"], "cannot load"),
        (["generate", "--model", str(tmp_path / "garbage.keras"), "hi"], "cannot load"),
        (["generate", "--model", str(notes)], "the following arguments are required: PROMPT"),
        (["generate", "--model", str(notes), "--max-length", "1", "hi"], "--max-length must be >= 2"),
    ]:
        _refused(capsys, argv, message)


@pytest.mark.slow
def test_predict_and_generate_on_keras_models(tmp_path, capsys):
    import numpy as np

    from kerasnlp_lite.models import CausalLM, GPTBackbone

    paths = {}
    for kind in ("classifier", "embedder"):
        model = _text_model(kind)
        paths[kind] = str(tmp_path / f"{kind}.keras")
        model.save(paths[kind])
        assert main(["predict", "--model", paths[kind], *TEXTS]) == 0
        rows = _predicted(capsys)
        outputs = np.asarray(model.predict(TEXTS, verbose=0))
        assert [row["text"] for row in rows] == TEXTS
        if kind == "classifier":
            np.testing.assert_allclose([row["probabilities"] for row in rows], _softmax(outputs), atol=1e-5)
            assert [row["label"] for row in rows] == np.argmax(outputs, axis=-1).tolist()
        else:
            np.testing.assert_allclose([row["embedding"] for row in rows], outputs, atol=1e-5)
    bare = str(tmp_path / "bare.keras")
    _text_model("classifier", preprocessor=False).save(bare)
    lm = str(tmp_path / "lm.keras")
    CausalLM(GPTBackbone(vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
                         max_sequence_length=8)).save(lm)
    for argv, message in [
        (["generate", "--model", paths["classifier"], "hi"], "generate needs a CausalLM or a Seq2SeqLM"),
        (["predict", "--model", lm, "hi"], "predict needs a TextClassifier or a TextEmbedder"),
        (["generate", "--model", lm, "hi"], "CausalLM without a tokenizer"),
        (["predict", "--model", bare, "hi"], "TextClassifier without a tokenizer"),
    ]:
        _refused(capsys, argv, message)


@pytest.mark.slow
def test_export_command_writes_a_checked_tflite_file_and_a_saved_model(tmp_path, capsys):
    import numpy as np
    import tensorflow as tf

    classifier = _text_model("classifier")
    keras_path = str(tmp_path / "classifier.keras")
    classifier.save(keras_path)
    # The command's entry point in this process (the console script is tested above; the conversion runs in
    # a child process either way).
    assert main(["export", "--model", keras_path, "--format", "tflite", "--quantize", "dynamic_int8",
                 "--out", str(tmp_path / "out"), "--sequence-length", "16"]) == 0
    printed = capsys.readouterr().out
    assert "serving_default" in printed and "classify" in printed, printed
    assert "min cosine" in printed, printed
    tflite_path = str(tmp_path / "out" / "classifier.tflite")
    # The string-in file through the predict command: the Keras probabilities, up to int8 weights.
    assert main(["predict", "--model", tflite_path, *TEXTS]) == 0
    rows = _predicted(capsys)
    np.testing.assert_allclose([row["probabilities"] for row in rows],
                               _softmax(np.asarray(classifier.predict(TEXTS, verbose=0))), atol=0.05)
    _refused(capsys, ["generate", "--model", tflite_path, "hi"], "is not a generation export")
    assert main(["export", "--model", keras_path, "--format", "saved_model", "--out", str(tmp_path / "sm")]) == 0
    assert json.loads(capsys.readouterr().out)["saved_model"] == str(tmp_path / "sm" / "classifier")
    _refused(capsys, ["export", "--model", keras_path, "--quantize", "int4", "--out", str(tmp_path / "x")],
             "--quantize int4 is for a CausalLM")
    loaded = tf.saved_model.load(str(tmp_path / "sm" / "classifier"))
    data = {name: np.ones((2, 16), "int32") for name in ("token_ids", "segment_ids", "padding_mask")}
    outputs = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in data.items()})
    np.testing.assert_allclose(
        next(iter(outputs.values())).numpy(), np.asarray(classifier(data)), atol=1e-5
    )


def test_export_command_bad_arguments(tmp_path):
    result = _run("export", "--model", str(tmp_path / "missing.keras"), "--out", str(tmp_path))
    assert result.returncode == 2 and "--model must be an existing .keras file" in result.stderr
    result = _run("export", "--model", "x.keras", "--out", str(tmp_path), "--quantize", "int3")
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
    for flag in ("--model", "--format", "--quantize", "--out", "--max-length", "--sequence-length"):
        assert flag in result.stdout
