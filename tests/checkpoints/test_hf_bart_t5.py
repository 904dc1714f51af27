"""from_hf on tiny random-weight BART (BartForConditionalGeneration, float16 tensors, byte-level BPE)
and T5 v1.0 (T5ForConditionalGeneration) checkpoints, against the outputs of Hugging Face
transformers stored by tests/data/make_hf_bart_reference.py and make_hf_t5_reference.py."""

import json
import os
import shutil

import numpy as np
import pytest

from kerasnlp_lite.checkpoints import from_hf
from kerasnlp_lite.checkpoints.hf import CheckpointError
from kerasnlp_lite.models import BartBackbone, Seq2SeqLM, Seq2SeqPreprocessor, T5Backbone
from kerasnlp_lite.tokenizers import ByteBPETokenizer

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
BART = os.path.join(DATA, "tiny_bart")
T5 = os.path.join(DATA, "tiny_t5")
INPUTS = ("encoder_token_ids", "encoder_padding_mask", "decoder_token_ids", "decoder_padding_mask")
TOLERANCE = 1e-5


def _reference(name):
    with open(os.path.join(DATA, f"hf_{name}_reference.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def bart_reference():
    return _reference("bart")


@pytest.fixture(scope="module")
def t5_reference():
    return _reference("t5")


@pytest.fixture(scope="module")
def bart_lm():
    return from_hf(BART, task="seq2seq_lm")


@pytest.fixture(scope="module")
def t5_lm():
    return from_hf(T5, task="seq2seq_lm")


def _inputs(reference):
    return {name: np.asarray(reference[name], "int32") for name in INPUTS}


def _hidden_diffs(backbone, reference, expected=None):
    """Max abs differences of the encoder and decoder outputs at real positions."""
    expected = expected or reference
    outputs = backbone(_inputs(reference))
    diffs = []
    for side in ("encoder", "decoder"):
        real = np.asarray(reference[f"{side}_padding_mask"], bool)
        ours = np.asarray(outputs[f"{side}_sequence_output"])
        diffs.append(float(np.max(np.abs(ours - np.asarray(expected[f"{side}_last_hidden_state"]))[real])))
    return diffs


def _logits_diff(model, reference):
    logits = np.asarray(model(_inputs(reference)))
    ours = [[logits[b, p] for p in row] for b, row in enumerate(reference["logit_positions"])]
    return float(np.max(np.abs(np.asarray(ours) - np.asarray(reference["logits"]))))


def _copy(source, target, edit_tensors=None, edit_config=None):
    """A copy of a tiny checkpoint folder in `target`, its tensors or config edited."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(source, target)
    if edit_config:
        config = json.loads((target / "config.json").read_text())
        edit_config(config)
        (target / "config.json").write_text(json.dumps(config))
    if edit_tensors:
        tensors = load_file(str(target / "model.safetensors"))
        edit_tensors(tensors)
        save_file(tensors, str(target / "model.safetensors"))
    return str(target)


# --- reproducing transformers ---------------------------------------------------------------


def test_bart_backbone_matches_reference(bart_reference):
    backbone = from_hf(BART)
    assert isinstance(backbone, BartBackbone)
    assert (backbone.num_layers, backbone.num_decoder_layers, backbone.num_heads, backbone.hidden_dim) == (2, 3, 4, 32)
    assert (backbone.intermediate_dim, backbone.max_sequence_length, backbone.vocabulary_size) == (64, 48, 300)
    assert backbone.activation == "gelu" and not backbone.scale_embeddings
    # HF's table of max_position_embeddings + 2 rows, as is.
    assert tuple(backbone.encoder_position_embedding.embeddings.shape) == (50, 32)
    assert max(_hidden_diffs(backbone, bart_reference)) <= TOLERANCE


def test_t5_backbone_matches_reference(t5_reference):
    backbone = from_hf(T5)
    assert isinstance(backbone, T5Backbone)
    assert (backbone.num_layers, backbone.num_decoder_layers, backbone.num_heads, backbone.hidden_dim) == (2, 3, 4, 32)
    assert (backbone.intermediate_dim, backbone.key_dim, backbone.activation) == (48, 6, "relu")
    assert (backbone.relative_attention_num_buckets, backbone.relative_attention_max_distance) == (8, 16)
    assert max(_hidden_diffs(backbone, t5_reference)) <= TOLERANCE


def test_bart_seq2seq_lm_logits_match_reference(bart_lm, bart_reference):
    assert isinstance(bart_lm, Seq2SeqLM)
    assert (bart_lm.decoder_start_token_id, bart_lm.end_token_id, bart_lm.pad_token_id) == (2, 2, 1)
    # The output layer is the shared token table (final_logits_bias is zeros, lm_head not stored).
    assert bart_lm.lm_head.token_embedding is bart_lm.backbone.token_embedding
    assert _logits_diff(bart_lm, bart_reference) <= TOLERANCE


def test_t5_seq2seq_lm_logits_match_reference(t5_lm, t5_reference):
    assert (t5_lm.decoder_start_token_id, t5_lm.end_token_id, t5_lm.pad_token_id) == (0, 1, 0)
    assert t5_lm.backbone.logit_scale == pytest.approx(32**-0.5)
    assert _logits_diff(t5_lm, t5_reference) <= TOLERANCE


@pytest.mark.parametrize("family", ["bart", "t5"])
def test_greedy_generation_matches_reference(family, bart_lm, t5_lm, bart_reference, t5_reference):
    lm, reference = (bart_lm, bart_reference) if family == "bart" else (t5_lm, t5_reference)
    # HF generated each source alone; ours decodes them as one right-padded batch. HF ran without
    # an eos, and the references hold none, so stopping at eos (the default) changes nothing.
    records = reference["greedy"]
    assert len({len(r["source_ids"]) for r in records}) > 1  # the encoder batch really is padded
    assert not any(lm.end_token_id in r["token_ids"][1:] for r in records)
    outputs = lm.generate([r["source_ids"] for r in records], max_length=len(records[0]["token_ids"]))
    assert outputs["token_ids"].tolist() == [r["token_ids"] for r in records]
    assert outputs["padding_mask"].all()


def test_bart_generate_from_strings_with_the_attached_tokenizer(bart_lm, bart_reference):
    preprocessor = bart_lm.preprocessor
    assert isinstance(preprocessor, Seq2SeqPreprocessor) and isinstance(preprocessor.tokenizer, ByteBPETokenizer)
    # <s> tokens </s>, as HF's BartTokenizerFast.
    sentences = bart_reference["sentences"]
    ids = preprocessor.encoder_inputs([s["text"] for s in sentences])
    for row, mask, sentence in zip(ids["encoder_token_ids"].tolist(), ids["encoder_padding_mask"], sentences):
        assert row[: int(mask.sum())] == sentence["token_ids"]
    records = bart_reference["greedy"]
    texts = bart_lm.generate([r["source"] for r in records], max_length=len(records[0]["token_ids"]))
    assert texts == [r["text"] for r in records]


def test_bart_scale_embedding(tmp_path, bart_reference):
    # The same tensors with HF scale_embedding=True: HF's outputs of that model (token embeddings * sqrt(32)).
    path = _copy(BART, tmp_path / "scaled", edit_config=lambda c: c.update(scale_embedding=True))
    backbone = from_hf(path)
    assert backbone.scale_embeddings
    assert max(_hidden_diffs(backbone, bart_reference, bart_reference["scale_embedding"])) <= TOLERANCE


def test_t5_reference_is_sensitive_to_the_buckets(tmp_path, t5_reference):
    # Another max_distance moves the logarithmic buckets: the outputs move by far more than the tolerance.
    path = _copy(T5, tmp_path / "distance", edit_config=lambda c: c.update(relative_attention_max_distance=32))
    assert min(_hidden_diffs(from_hf(path), t5_reference)) > 1e-2


# --- what is refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family, field, value",
    [
        ("bart", "normalize_before", True),
        ("bart", "add_final_layer_norm", True),
        ("bart", "static_position_embeddings", True),
        ("bart", "decoder_attention_heads", 2),
        ("bart", "decoder_ffn_dim", 128),
        ("bart", "activation_function", "swish"),
        ("t5", "feed_forward_proj", "gated-gelu"),
        ("t5", "feed_forward_proj", "swish"),
        ("t5", "tie_word_embeddings", False),
        ("t5", "scale_decoder_outputs", False),
    ],
)
def test_unsupported_config(tmp_path, family, field, value):
    path = _copy(BART if family == "bart" else T5, tmp_path / "config", edit_config=lambda c: c.update({field: value}))
    with pytest.raises(CheckpointError, match=f"{field}={value!r}"):
        from_hf(path, task="seq2seq_lm")


@pytest.mark.parametrize(
    "family, name, shape, message",
    [
        ("bart", "model.encoder.layers.1.self_attn.k_proj.weight", (32, 33),
         r"'encoder.layers.1.self_attn.k_proj.weight': checkpoint \(32, 33\), expected \(32, 32\)"),
        ("bart", "model.decoder.embed_positions.weight", (48, 32),
         r"Shape mismatch for 'decoder.embed_positions.weight'"),
        ("t5", "decoder.block.2.layer.1.EncDecAttention.o.weight", (32, 32),
         r"'decoder.block.2.layer.1.EncDecAttention.o.weight': checkpoint \(32, 32\), expected \(32, 24\)"),
        ("t5", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", (32, 4),
         r"Shape mismatch for 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'"),
    ],
    ids=["bart_k_proj", "bart_positions", "t5_cross_o", "t5_buckets"],
)
def test_shape_mismatch(tmp_path, family, name, shape, message):
    def edit(tensors):
        assert name in tensors
        tensors[name] = np.zeros(shape, "float32")

    with pytest.raises(CheckpointError, match=message):
        from_hf(_copy(BART if family == "bart" else T5, tmp_path / "bad", edit_tensors=edit))


def test_missing_and_unexpected_tensors(tmp_path):
    path = _copy(BART, tmp_path / "missing", edit_tensors=lambda t: t.pop("model.decoder.layers.2.fc2.bias"))
    with pytest.raises(CheckpointError, match="no tensor 'decoder.layers.2.fc2.bias'"):
        from_hf(path)

    def extra(tensors):
        tensors["encoder.block.2.layer.0.layer_norm.weight"] = np.ones((32,), "float32")

    unmapped = r"not mapped to the model: \['encoder.block.2.layer.0.layer_norm.weight'\]"
    with pytest.raises(CheckpointError, match=unmapped):
        from_hf(_copy(T5, tmp_path / "extra", edit_tensors=extra))


def test_bart_output_layer_checks(tmp_path, bart_reference):
    def bias(tensors):
        tensors["final_logits_bias"] = np.full((1, 300), 0.5, "float16")

    path = _copy(BART, tmp_path / "bias", edit_tensors=bias)
    with pytest.raises(CheckpointError, match="'final_logits_bias' is not all zeros"):
        from_hf(path, task="seq2seq_lm")

    def untie(tensors):
        tensors["lm_head.weight"] = tensors["model.shared.weight"] + 1.0

    with pytest.raises(CheckpointError, match="'lm_head.weight' differs from 'shared.weight'"):
        from_hf(_copy(BART, tmp_path / "untied", edit_tensors=untie), task="seq2seq_lm")

    # Tied copies (older transformers write them) load as the plain file.
    def copies(tensors):
        for name in ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"):
            tensors[name] = tensors["model.shared.weight"].copy()

    assert _logits_diff(from_hf(_copy(BART, tmp_path / "copies", edit_tensors=copies), task="seq2seq_lm"),
                        bart_reference) <= TOLERANCE


def test_t5_tied_copies_and_unused_cross_attention_bias(tmp_path, t5_reference):
    def copies(tensors):
        for name in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"):
            tensors[name] = tensors["shared.weight"].copy()
        # Some older checkpoints store it; T5 never uses it (transformers skips it too).
        tensors["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"] = np.ones((8, 4), "float32")

    lm = from_hf(_copy(T5, tmp_path / "copies", edit_tensors=copies), task="seq2seq_lm")
    assert _logits_diff(lm, t5_reference) <= TOLERANCE

    def differing(tensors):
        tensors["decoder.embed_tokens.weight"] = tensors["shared.weight"] * 2.0

    with pytest.raises(CheckpointError, match="'decoder.embed_tokens.weight' differs from 'shared.weight'"):
        from_hf(_copy(T5, tmp_path / "differing", edit_tensors=differing))


def test_tasks_per_family():
    with pytest.raises(ValueError, match="model_type='t5' supports tasks"):
        from_hf(T5, task="causal_lm")
    with pytest.raises(ValueError, match="model_type='gpt2' supports tasks"):
        from_hf(os.path.join(DATA, "tiny_gpt2"), task="seq2seq_lm")
