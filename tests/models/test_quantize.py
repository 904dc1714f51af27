"""Keras' `model.quantize("int8")` on every Transformer backbone: which weights become int8, how far the
outputs move, the `.keras` round trip, and generation with the KV cache (layers/int8_weights.py)."""

import warnings

import keras
import numpy as np
import pytest

from kerasnlp_lite.models import (
    AlbertBackbone,
    BartBackbone,
    BertBackbone,
    CausalLM,
    GPTBackbone,
    RobertaBackbone,
    T5Backbone,
    TransformerSeq2Seq,
)
from tests.test_case import check_keras_round_trip

BASE = dict(vocabulary_size=60, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32)
FAMILIES = {
    GPTBackbone: dict(BASE, max_sequence_length=16),
    BertBackbone: dict(BASE, max_sequence_length=16),
    RobertaBackbone: dict(BASE, max_sequence_length=16),
    AlbertBackbone: dict(BASE, max_sequence_length=16, embedding_dim=8),
    TransformerSeq2Seq: dict(BASE, max_sequence_length=16),
    BartBackbone: dict(BASE, max_sequence_length=16),
    T5Backbone: dict(BASE, relative_attention_num_buckets=8, relative_attention_max_distance=16),
}
# Share of each backbone's parameters held as int8 after quantize (the rest: LayerNorm, biases, position
# tables, ALBERT's factorized projection, T5's relative bias, BERT's pooler and segment table).
MIN_INT8_SHARE = {GPTBackbone: 0.7, BertBackbone: 0.6, RobertaBackbone: 0.6, AlbertBackbone: 0.4,
                  TransformerSeq2Seq: 0.7, BartBackbone: 0.7, T5Backbone: 0.7}


def _inputs(cls, batch=2, length=8):
    rng = np.random.default_rng(0)
    mask = (np.arange(length)[None] < np.array([length, 5])[:, None]).astype("int32")
    ids = rng.integers(3, 60, (batch, length)).astype("int32") * mask
    if cls in (TransformerSeq2Seq, BartBackbone, T5Backbone):
        return {"encoder_token_ids": ids, "encoder_padding_mask": mask,
                "decoder_token_ids": ids[:, ::-1].copy() * mask, "decoder_padding_mask": mask}
    x = {"token_ids": ids, "padding_mask": mask}
    if cls in (BertBackbone, AlbertBackbone):
        x["segment_ids"] = (np.arange(length)[None] >= length // 2).astype("int32").repeat(batch, 0) * mask
    return x


def _quantize(model):
    with warnings.catch_warnings():
        # Keras warns once per leaf layer without int8 (LayerNormalization, Dropout, ...).
        warnings.simplefilter("ignore")
        model.quantize("int8")


def _int8_share(model):
    sizes = {"int8": 0, "all": 0}
    for variable in model.weights:
        if variable.path.endswith("_scale"):
            continue
        size = int(np.prod(variable.shape))
        sizes["all"] += size
        sizes["int8"] += size if "int8" in str(variable.dtype) else 0
    return sizes["int8"] / sizes["all"]


@pytest.mark.parametrize("cls", list(FAMILIES), ids=lambda c: c.__name__)
def test_quantize_int8_backbone(cls):
    keras.utils.set_random_seed(0)
    backbone = cls(**FAMILIES[cls], dropout=0.0)
    x = _inputs(cls)
    run = lambda model: keras.tree.map_structure(np.asarray, model(x, training=False))  # noqa: E731 (eager: no tracing)
    before = run(backbone)
    _quantize(backbone)
    share = _int8_share(backbone)
    print(f"\n{cls.__name__}: {share:.0%} of the parameters int8")
    assert share >= MIN_INT8_SHARE[cls]
    after = run(backbone)
    for name, value in (after.items() if isinstance(after, dict) else [("output", after)]):
        reference = before[name] if isinstance(before, dict) else before
        scale = np.abs(reference).max()
        assert np.abs(np.asarray(value) - reference).max() <= 0.05 * scale, name
    reloaded = check_keras_round_trip(backbone, run, after)
    assert _int8_share(reloaded) == share
    with pytest.raises(ValueError, match="already quantized"):
        _quantize(reloaded)


def test_quantized_causal_lm_generates_with_the_cache():
    """The cached decode (MultiHeadAttention.call_with_cache path) reads the int8 kernels too: greedy
    `generate` equals the argmax of full forward passes of the quantized model."""
    keras.utils.set_random_seed(0)
    lm = CausalLM(GPTBackbone(**FAMILIES[GPTBackbone], dropout=0.0))
    _quantize(lm)
    ids = np.asarray(lm.generate([[5, 9, 13]], max_length=10, stop_token_ids=None)["token_ids"])[0]
    tokens = [5, 9, 13]
    for _ in range(7):
        logits = lm({"token_ids": np.array([tokens]), "padding_mask": np.ones((1, len(tokens)), np.int32)})
        tokens.append(int(np.argmax(np.asarray(logits)[0, -1])))
    assert ids.tolist() == tokens


def test_quantize_refuses_other_modes_and_lora():
    from kerasnlp_lite.layers import MultiHeadAttention

    layer = MultiHeadAttention(num_heads=2)
    layer.build((None, 4, 8))
    with pytest.raises(NotImplementedError, match="int8"):
        layer.quantize("float8")
    lora = MultiHeadAttention(num_heads=2, lora_rank=2)
    lora.build((None, 4, 8))
    with pytest.raises(ValueError, match="merge_lora"):
        lora.quantize("int8")
