"""from_hf on tiny random-weight ALBERT and RoBERTa checkpoints, against the outputs of
Hugging Face transformers stored by tests/data/make_hf_encoder_references.py."""

import json
import os
import shutil

import numpy as np
import pytest

from kerasnlp_lite.checkpoints import from_hf
from kerasnlp_lite.checkpoints.hf import CheckpointError
from kerasnlp_lite.models import (
    AlbertBackbone,
    AlbertPretrainer,
    RobertaBackbone,
    RobertaPretrainer,
    TextClassifier,
    TextEmbedder,
)

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
ALBERT = os.path.join(DATA, "tiny_albert")
ROBERTA = os.path.join(DATA, "tiny_roberta")


@pytest.fixture(scope="module")
def reference():
    with open(os.path.join(DATA, "hf_encoder_references.json")) as f:
        return json.load(f)


def _inputs(record, mask_positions=False):
    inputs = {k: np.asarray(record[k], "int32") for k in ("token_ids", "segment_ids", "padding_mask") if k in record}
    if mask_positions:
        inputs["mask_positions"] = np.asarray(record["mask_positions"], "int32")
    return inputs


def _hidden_diff(outputs, record):
    real = np.asarray(record["padding_mask"], bool)
    return np.max(np.abs(np.asarray(outputs["sequence_output"]) - np.asarray(record["last_hidden_state"]))[real])


def _max_diff(ours, theirs):
    return float(np.max(np.abs(np.asarray(ours) - np.asarray(theirs))))


def test_albert_backbone_matches_reference(reference):
    record = reference["albert"]
    backbone = from_hf(ALBERT)
    assert isinstance(backbone, AlbertBackbone)
    # 4 layers in 2 groups of 2 distinct blocks: 4 blocks held, each applied twice.
    assert (backbone.num_layers, backbone.num_groups, backbone.num_inner_repetitions) == (4, 2, 2)
    assert len(backbone.encoder_blocks) == 4 and backbone.activation == "gelu_tanh"
    outputs = backbone(_inputs(record))
    assert _hidden_diff(outputs, record) <= 1e-5
    assert _max_diff(outputs["pooled_output"], record["pooler_output"]) <= 1e-5


def test_albert_masked_lm_and_pretraining_match_reference(reference):
    record = reference["albert"]
    masked_lm = from_hf(ALBERT, task="masked_lm")
    assert isinstance(masked_lm, AlbertPretrainer) and not masked_lm.next_sentence
    outputs = masked_lm(_inputs(record, mask_positions=True))
    assert set(outputs) == {"mlm_logits"}
    assert _max_diff(outputs["mlm_logits"], record["mlm_logits"]) <= 1e-4

    pretrainer = from_hf(ALBERT, task="pretraining")
    outputs = pretrainer(_inputs(record, mask_positions=True))
    assert _max_diff(outputs["mlm_logits"], record["mlm_logits"]) <= 1e-4
    assert _max_diff(outputs["sop_logits"], record["sop_logits"]) <= 1e-5


def test_roberta_backbone_and_masked_lm_match_reference(reference):
    record = reference["roberta"]
    backbone = from_hf(ROBERTA)
    assert isinstance(backbone, RobertaBackbone)
    # HF's 66-row table: 64 positions after pad_token_id + 1 = 2 reserved rows.
    assert (backbone.pad_token_id, backbone.max_sequence_length) == (1, 64)
    assert _hidden_diff(backbone(_inputs(record)), record) <= 1e-5

    masked_lm = from_hf(ROBERTA, task="masked_lm")
    assert isinstance(masked_lm, RobertaPretrainer)
    outputs = masked_lm(_inputs(record, mask_positions=True))
    assert _max_diff(outputs["mlm_logits"], record["mlm_logits"]) <= 1e-4


@pytest.mark.parametrize("name, path", [("albert", ALBERT), ("roberta", ROBERTA)], ids=["albert", "roberta"])
def test_embedder_and_classifier(reference, name, path):
    record = reference[name]
    embedder = from_hf(path, task="embedder")
    assert isinstance(embedder, TextEmbedder)
    mask = np.asarray(record["padding_mask"], "float32")[..., None]
    pooled = (np.asarray(record["last_hidden_state"]) * mask).sum(1) / mask.sum(1)
    expected = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
    assert _max_diff(embedder(_inputs(record)), expected) <= 1e-5

    classifier = from_hf(path, task="classifier", num_classes=3)
    assert isinstance(classifier, TextClassifier)
    assert np.asarray(classifier(_inputs(record))).shape == (3, 3)


def _copy(source, target, edit_tensors=None, edit_config=None):
    """A copy of a checkpoint directory in `target`, its tensors or config edited in place."""
    from safetensors.numpy import load_file, save_file

    target.mkdir()
    config = json.loads(open(os.path.join(source, "config.json")).read())
    if edit_config:
        edit_config(config)
    (target / "config.json").write_text(json.dumps(config))
    if edit_tensors:
        tensors = load_file(os.path.join(source, "model.safetensors"))
        edit_tensors(tensors)
        save_file(tensors, str(target / "model.safetensors"))
    else:
        shutil.copy(os.path.join(source, "model.safetensors"), target / "model.safetensors")
    return str(target)


def test_albert_errors(tmp_path, reference):
    name = "albert.encoder.albert_layer_groups.1.albert_layers.1.ffn.weight"
    path = _copy(ALBERT, tmp_path / "missing", edit_tensors=lambda t: t.pop(name))
    with pytest.raises(CheckpointError, match="no tensor 'encoder.albert_layer_groups.1.albert_layers.1.ffn.weight'"):
        from_hf(path)
    # The reference is sensitive to the activation: exact gelu instead of gelu_new is off by far more than 1e-5.
    path = _copy(ALBERT, tmp_path / "gelu", edit_config=lambda c: c.update(hidden_act="gelu"))
    outputs = from_hf(path)(_inputs(reference["albert"]))
    assert _hidden_diff(outputs, reference["albert"]) > 1e-3


def test_roberta_errors(tmp_path, reference):
    def edit(tensors):
        tensors["roberta.embeddings.position_embeddings.weight"] = np.zeros((64, 32), "float32")

    with pytest.raises(CheckpointError, match="Shape mismatch for 'embeddings.position_embeddings.weight'"):
        from_hf(_copy(ROBERTA, tmp_path / "a", edit_tensors=edit))

    def untie(tensors):
        tensors["lm_head.decoder.weight"] = tensors["roberta.embeddings.word_embeddings.weight"] + 1.0

    path = _copy(ROBERTA, tmp_path / "b", edit_tensors=untie)
    with pytest.raises(CheckpointError, match="untied output layers are not supported"):
        from_hf(path, task="masked_lm")

    def extra(tensors):
        tensors["roberta.encoder.layer.2.output.dense.bias"] = np.zeros((32,), "float32")

    path = _copy(ROBERTA, tmp_path / "c", edit_tensors=extra)
    with pytest.raises(CheckpointError, match="not mapped to the model: \\['roberta.encoder.layer.2"):
        from_hf(path)

    # The reference is sensitive to the position offset: pad_token_id 0 reads positions one row early.
    path = _copy(ROBERTA, tmp_path / "d", edit_config=lambda c: c.update(pad_token_id=0))
    assert _hidden_diff(from_hf(path)(_inputs(reference["roberta"])), reference["roberta"]) > 1e-3
