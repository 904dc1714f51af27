"""`LiteRunner` on a string-in encoder export: the `classify` / `embed` contract and its error messages."""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.export.runner import LiteRunner
from kerasnlp_lite.export.tflite import convert_saved_model
from kerasnlp_lite.tokenizers import WordPieceTokenizer

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "dog", "sat", "on", "mat", "##s", ".", "a"]
TEXTS = ["The cat sat on the mat.", "A dog.", "the cats sat", "Unseen words here"]
NUM_CLASSES, WIDTH = 3, 8


def _encoder():
    """ids [1, T] -> {"embeddings": mean-pooled [1, D], "logits": [1, C]}: a tiny bag-of-pieces encoder."""
    keras.utils.set_random_seed(1)
    token_ids = keras.Input((None,), batch_size=1, dtype="int32", name="token_ids")
    x = keras.layers.Embedding(len(VOCABULARY), WIDTH, name="embedding")(token_ids)
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    logits = keras.layers.Dense(NUM_CLASSES, name="classifier")(pooled)
    return keras.Model(token_ids, {"embeddings": pooled, "logits": logits})


@pytest.fixture(scope="module")
def encoder_bundle(tmp_path_factory):
    """The colleague's contract: `classify` (text -> logits) and `embed` (text -> embeddings), batch 1."""
    tokenizer = WordPieceTokenizer(VOCABULARY)
    model = _encoder()

    def ids_of(text):
        return tf.expand_dims(tokenizer.tokenize(tf.reshape(text, [1])).flat_values, 0)  # [1, T]

    archive = keras.export.ExportArchive()
    archive.track(model)
    # `classify` takes a scalar string, `embed` a [1] batch (as `export_tflite` writes it): both shapes.
    scalar, batch = [{"text": tf.TensorSpec((), tf.string, name="text")}], [tf.TensorSpec([1], tf.string, name="text")]
    archive.add_endpoint("classify", lambda inputs: {"logits": model(ids_of(inputs["text"]))["logits"]}, scalar)
    archive.add_endpoint("embed", lambda text: {"embeddings": model(ids_of(text))["embeddings"]}, batch)
    directory = tmp_path_factory.mktemp("encoder")
    archive.write_out(str(directory / "saved_model"), verbose=False)
    content = convert_saved_model(str(directory / "saved_model"), ["classify", "embed"], allow_tftext_ops=True)
    path = directory / "encoder.tflite"
    path.write_bytes(content)
    return str(path), tokenizer, model


def _keras_outputs(tokenizer, model, text):
    ids = tokenizer.tokenize(text).numpy()[None]
    return {name: np.asarray(value)[0] for name, value in model(ids).items()}


@pytest.mark.slow
@pytest.mark.tflite
def test_classify_and_embed_match_keras(encoder_bundle):
    path, tokenizer, model = encoder_bundle
    runner = LiteRunner(path)
    assert sorted(runner.signatures) == ["classify", "embed"]
    assert runner.signatures["classify"]["inputs"] == {"text": {"shape": [], "dtype": "bytes"}}
    assert runner.signatures["embed"]["inputs"] == {"text": {"shape": [1], "dtype": "bytes"}}
    assert any(op.startswith("TFText>") for op in runner.custom_ops)

    logits, embeddings = runner.classify(TEXTS), runner.embed(TEXTS)
    assert logits.shape == (len(TEXTS), NUM_CLASSES) and embeddings.shape == (len(TEXTS), WIDTH)
    for i, text in enumerate(TEXTS):
        expected = _keras_outputs(tokenizer, model, text)
        np.testing.assert_allclose(logits[i], expected["logits"], atol=1e-5)
        np.testing.assert_allclose(embeddings[i], expected["embeddings"], atol=1e-5)
    # Different texts give different rows (the text really reaches the model).
    assert not np.allclose(embeddings[0], embeddings[1])
    # One string -> one row, bytes accepted, and bytes/str agree; bytes in a file path work too.
    np.testing.assert_allclose(runner.classify(TEXTS[1]), logits[1], atol=1e-6)
    np.testing.assert_allclose(runner.embed(TEXTS[1].encode()), embeddings[1], atol=1e-6)
    with open(path, "rb") as f:
        np.testing.assert_allclose(LiteRunner(f.read()).embed(TEXTS[:2]), embeddings[:2], atol=1e-6)


@pytest.mark.slow
@pytest.mark.tflite
def test_runner_errors_name_what_to_change(encoder_bundle, tmp_path):
    path, _, _ = encoder_bundle
    runner = LiteRunner(path)
    with pytest.raises(ValueError, match=r"Unknown signature 'predict'.*\['classify', 'embed'\]"):
        runner.run("predict", text="a cat")
    with pytest.raises(ValueError, match=r"takes inputs text: bytes \[\].*missing \['text'\].*unexpected \['inputs'\]"):
        runner.run("classify", inputs="a cat")
    with pytest.raises(ValueError, match=r"Input 'text' of signature 'classify' must be bytes of shape \[\]"):
        runner.run("classify", text=np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"no \['prefill', 'decode'\] signature.*\['classify', 'embed'\]"):
        runner.generate("a cat", 3)
    with pytest.raises(TypeError, match="must be strings"):
        runner.classify(["a cat", 3])
    with pytest.raises(ValueError, match="holds an empty string"):
        runner.classify([""])
    with pytest.raises(ValueError, match="`texts` is empty"):
        runner.embed([])
    with pytest.raises(ValueError, match="No TFLite file"):
        LiteRunner(str(tmp_path / "missing.tflite"))
    assert os.path.isfile(path)


@pytest.mark.slow
@pytest.mark.tflite
def test_runner_refuses_files_that_are_not_tflite(encoder_bundle, tmp_path):
    # A ValueError naming the path with LiteRT's own reason, not a struct.error from our flatbuffer reader.
    path, _, _ = encoder_bundle
    with open(path, "rb") as f:
        content = f.read()
    bad = {
        "random.tflite": np.random.default_rng(0).bytes(5000),
        "truncated.tflite": content[: len(content) // 2],
        "header_only.tflite": content[:8],
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        pattern = rf"{re.escape(repr(str(tmp_path / name)))} \({len(data)} bytes\) is not a TFLite model: " \
                  r"The model is not a valid Flatbuffer buffer"
        with pytest.raises(ValueError, match=pattern):
            LiteRunner(str(tmp_path / name))
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ValueError, match="is not a TFLite model: the file is empty"):
        LiteRunner(str(tmp_path / "empty.tflite"))
    with pytest.raises(ValueError, match=r"The given 64 bytes is not a TFLite model"):
        LiteRunner(content[:64])
    assert LiteRunner(content).signatures.keys() == {"classify", "embed"}
