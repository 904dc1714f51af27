"""from_hf on a tiny random-weight GPT-2 checkpoint (GPT2LMHeadModel, byte-level BPE), against the
outputs of Hugging Face transformers stored by tests/data/make_hf_gpt2_reference.py."""

import json
import os
import shutil

import numpy as np
import pytest

from kerasnlp_lite.checkpoints import from_hf, from_hf_tokenizer
from kerasnlp_lite.checkpoints.hf import CheckpointError
from kerasnlp_lite.models import CausalLM, GPTBackbone
from kerasnlp_lite.tokenizers import ByteBPETokenizer

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
GPT2 = os.path.join(DATA, "tiny_gpt2")


@pytest.fixture(scope="module")
def reference():
    with open(os.path.join(DATA, "hf_gpt2_reference.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def causal_lm():
    return from_hf(GPT2, task="causal_lm")


def _inputs(reference):
    return {name: np.asarray(reference[name], "int32") for name in ("token_ids", "padding_mask")}


def _hidden_diff(backbone, reference):
    real = np.asarray(reference["padding_mask"], bool)
    hidden = np.asarray(backbone(_inputs(reference))["sequence_output"])
    return float(np.max(np.abs(hidden - np.asarray(reference["last_hidden_state"]))[real]))


def _logits_diff(model, reference):
    logits = np.asarray(model(_inputs(reference)))
    ours = [[logits[b, p] for p in row] for b, row in enumerate(reference["logit_positions"])]
    return float(np.max(np.abs(np.asarray(ours) - np.asarray(reference["logits"]))))


def test_backbone_matches_reference(reference):
    backbone = from_hf(GPT2)
    assert isinstance(backbone, GPTBackbone)
    assert backbone.norm_first and backbone.final_norm and backbone.activation == "gelu_tanh"
    # n_inner: null -> 4 * n_embd; n_positions -> the position table.
    assert (backbone.num_layers, backbone.num_heads, backbone.hidden_dim) == (2, 2, 32)
    assert (backbone.intermediate_dim, backbone.max_sequence_length, backbone.vocabulary_size) == (128, 64, 400)
    assert _hidden_diff(backbone, reference) <= 1e-5


def test_causal_lm_logits_match_reference(causal_lm, reference):
    assert isinstance(causal_lm, CausalLM)
    # The output layer is the token table itself (no separate lm_head.weight in the file).
    assert causal_lm.lm_head.token_embedding is causal_lm.backbone.token_embedding
    assert _logits_diff(causal_lm, reference) <= 1e-4


def test_greedy_generation_matches_reference(causal_lm, reference):
    # HF generated each prompt alone; ours runs them as one right-padded batch (one trace), every row
    # to the longest reference length: greedy decoding is causal, so each reference is a prefix.
    records = reference["greedy"]
    assert len({len(r["prompt_ids"]) for r in records}) > 1  # the batch really is padded
    max_length = max(len(r["token_ids"]) for r in records)
    outputs = causal_lm.generate([r["prompt_ids"] for r in records], max_length=max_length, sampler="greedy")
    for row, mask, record in zip(outputs["token_ids"].tolist(), outputs["padding_mask"], records):
        assert row[: len(record["token_ids"])] == record["token_ids"]
        assert mask.all()


def test_generate_from_strings_with_the_attached_tokenizer(causal_lm, reference):
    assert isinstance(causal_lm.preprocessor.tokenizer, ByteBPETokenizer)
    for record in reference["greedy"]:
        # Only as far as HF's decoding of the continuation is valid UTF-8 (a random model emits lone bytes).
        max_length = len(record["prompt_ids"]) + record["valid_utf8_new_tokens"]
        assert causal_lm.generate(record["prompt"], max_length=max_length) == record["valid_utf8_text"]
        # The whole continuation, invalid UTF-8 bytes included: replaced by U+FFFD as HF's decode does.
        full = causal_lm.generate(record["prompt"], max_length=len(record["token_ids"]))
        assert full == record["text"]


def test_tokenizer_reproduces_reference_ids(reference):
    tokenizer = from_hf_tokenizer(GPT2)
    assert isinstance(tokenizer, ByteBPETokenizer)
    for sentence in reference["sentences"]:
        ids = tokenizer.tokenize(sentence["text"]).numpy().tolist()
        assert ids == sentence["token_ids"]
        assert tokenizer.detokenize(ids).numpy().decode() == sentence["text"]
    prompts = [r["prompt"] for r in reference["greedy"]]
    assert tokenizer.tokenize(prompts).to_list() == [r["prompt_ids"] for r in reference["greedy"]]


def _copy(target, edit_tensors=None, edit_config=None):
    """A copy of tiny_gpt2 (tokenizer files included) in `target`, its tensors or config edited."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(GPT2, target)
    if edit_config:
        config = json.loads((target / "config.json").read_text())
        edit_config(config)
        (target / "config.json").write_text(json.dumps(config))
    if edit_tensors:
        tensors = load_file(str(target / "model.safetensors"))
        edit_tensors(tensors)
        save_file(tensors, str(target / "model.safetensors"))
    return str(target)


def test_missing_and_unexpected_tensors(tmp_path):
    path = _copy(tmp_path / "missing", edit_tensors=lambda t: t.pop("transformer.h.1.mlp.c_fc.bias"))
    with pytest.raises(CheckpointError, match="no tensor 'h.1.mlp.c_fc.bias'"):
        from_hf(path)

    def extra(tensors):
        tensors["transformer.h.2.ln_1.weight"] = np.ones((32,), "float32")

    with pytest.raises(CheckpointError, match=r"not mapped to the model: \['transformer.h.2.ln_1.weight'\]"):
        from_hf(_copy(tmp_path / "extra", edit_tensors=extra))


@pytest.mark.parametrize(
    "name, shape, message",
    [
        ("transformer.h.0.attn.c_attn.weight", (32, 97), r"'h.0.attn.c_attn.weight': checkpoint \(32, 97\), "
         r"expected \(32, 96\)"),
        ("transformer.h.1.attn.c_attn.bias", (64,), r"'h.1.attn.c_attn.bias': checkpoint \(64,\), expected \(96,\)"),
        ("transformer.h.0.attn.c_proj.weight", (32, 33), r"'h.0.attn.c_proj.weight': checkpoint \(32, 33\), "
         r"expected \(32, 32\)"),
        # A torch Linear layout ([out, in]) where Conv1D's [in, out] is expected.
        ("transformer.h.0.mlp.c_fc.weight", (128, 32), r"Shape mismatch for 'h.0.mlp.c_fc.weight'"),
        ("transformer.wpe.weight", (32, 32), r"Shape mismatch for 'wpe.weight'"),
    ],
    ids=["c_attn", "c_attn_bias", "c_proj", "c_fc", "wpe"],
)
def test_shape_mismatch(tmp_path, name, shape, message):
    def edit(tensors):
        tensors[name] = np.zeros(shape, "float32")

    with pytest.raises(CheckpointError, match=message):
        from_hf(_copy(tmp_path / "bad", edit_tensors=edit))


@pytest.mark.parametrize(
    "field, value",
    [
        ("scale_attn_by_inverse_layer_idx", True),
        ("scale_attn_weights", False),
        ("add_cross_attention", True),
        ("activation_function", "swish"),
    ],
)
def test_unsupported_config(tmp_path, field, value):
    path = _copy(tmp_path / "config", edit_config=lambda c: c.update({field: value}))
    with pytest.raises(CheckpointError, match=f"{field}={value!r}"):
        from_hf(path, task="causal_lm")


def test_tied_head_and_buffers(tmp_path, reference):
    def untie(tensors):
        tensors["lm_head.weight"] = tensors["transformer.wte.weight"] + 1.0

    with pytest.raises(CheckpointError, match="'lm_head.weight' differs from 'wte.weight'"):
        from_hf(_copy(tmp_path / "untied", edit_tensors=untie), task="causal_lm")

    # An explicit tied head and older transformers' causal-mask buffers load as the plain file.
    def stored_head_and_buffers(tensors):
        tensors["lm_head.weight"] = tensors["transformer.wte.weight"].copy()
        for i in range(2):
            tensors[f"transformer.h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 64, 64), "float32"))
            tensors[f"transformer.h.{i}.attn.masked_bias"] = np.asarray(-1e4, "float32")

    path = _copy(tmp_path / "buffers", edit_tensors=stored_head_and_buffers)
    assert _logits_diff(from_hf(path, task="causal_lm"), reference) <= 1e-4
    assert _hidden_diff(from_hf(path), reference) <= 1e-5

    # tie_word_embeddings=False needs the head in the file.
    path = _copy(tmp_path / "no_head", edit_config=lambda c: c.update(tie_word_embeddings=False))
    with pytest.raises(CheckpointError, match="no tensor 'lm_head.weight'"):
        from_hf(path, task="causal_lm")


def test_reference_is_sensitive_and_reorder_is_accepted(tmp_path, reference):
    # Exact gelu instead of gelu_new moves the logits by far more than the tolerance.
    path = _copy(tmp_path / "gelu", edit_config=lambda c: c.update(activation_function="gelu"))
    assert _logits_diff(from_hf(path, task="causal_lm"), reference) > 1e-3
    # reorder_and_upcast_attn changes nothing in float32 (the script checks HF's own outputs).
    path = _copy(tmp_path / "reorder", edit_config=lambda c: c.update(reorder_and_upcast_attn=True))
    assert _logits_diff(from_hf(path, task="causal_lm"), reference) <= 1e-4


def test_tasks_per_family():
    with pytest.raises(ValueError, match="model_type='gpt2' supports tasks"):
        from_hf(GPT2, task="masked_lm")
    with pytest.raises(ValueError, match="model_type='roberta' supports tasks"):
        from_hf(os.path.join(DATA, "tiny_roberta"), task="causal_lm")
