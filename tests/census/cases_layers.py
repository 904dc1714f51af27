"""Census cases: layers and heads (constructors, eager, graph and XLA calls, KV caches, masks)."""

import numpy as np
import tensorflow as tf

from kerasnlp_lite import heads, layers
from tests.census.harness import Case

IDS = "ids out of range"
CACHE = "cache_index"
NAN = "NaN at padding"
ARG = "argument"
SHAPE = "shape/dtype"


def graph(fn, *args):
    """Calls `fn` inside a tf.function (what `predict` and export trace)."""
    return tf.function(fn)(*args)


def _built_in_graph(layer, call, argument):
    """Builds `layer` eagerly (index 0), then calls it with `argument` inside a tf.function."""
    call(layer, tf.zeros_like(argument))
    return graph(lambda a: call(layer, a), argument)


def xla(fn, *args):
    return tf.function(fn, jit_compile=True)(*args)


def _x(*shape):
    return np.random.default_rng(0).normal(size=shape).astype("float32")


def _ids(*values):
    return np.array([values], "int32")


def _mha():
    return layers.MultiHeadAttention(num_heads=2, key_dim=4)


def _mha_cache(cache_index, length=6):
    layer = _mha()
    query = _x(1, 1, 8)
    layer(query, query)
    cache = (np.zeros((1, 2, length, 4), "float32"), np.zeros((1, 2, length, 4), "float32"))
    return layer(query, cache=cache, cache_index=cache_index, use_causal_mask=True)


def _mha_cache_graph(cache_index, length=6, jit=False):
    layer = _mha()
    query = _x(1, 1, 8)
    layer(query, query)
    cache = (np.zeros((1, 2, length, 4), "float32"), np.zeros((1, 2, length, 4), "float32"))
    fn = tf.function(lambda i: layer(query, cache=cache, cache_index=i, use_causal_mask=True), jit_compile=jit)
    return fn(tf.constant(cache_index))


def _encoder_block_nan():
    """NaN in the features of a padded position: the unpadded outputs must stay finite."""
    block = layers.TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    x = _x(1, 4, 8)
    x[0, 3] = np.nan
    return block(x, padding_mask=np.array([[1, 1, 1, 0]], "int32"))


def _decoder_block_cache(index):
    block = layers.TransformerDecoderBlock(num_heads=2, intermediate_dim=16, cross_attention=False)
    x = _x(1, 1, 8)
    block(x)
    cache = (np.zeros((1, 2, 4, 4), "float32"), np.zeros((1, 2, 4, 4), "float32"))
    return block(x, self_attention_cache=cache, self_attention_cache_index=index)


def _finite_rows(rows):
    return lambda out: bool(np.isfinite(np.asarray(out[0] if isinstance(out, tuple) else out)[0, rows]).all())


def _token_embedding(ids, how=None):
    layer = layers.TokenEmbedding(vocabulary_size=10, hidden_dim=4)
    layer(_ids(0))
    if how == "graph":
        return graph(layer, ids)
    if how == "xla":
        return xla(layer, ids)
    return layer(ids)


def _text_embedding(**call):
    layer = layers.TextEmbedding(vocabulary_size=10, hidden_dim=4, max_sequence_length=8, num_segments=2)
    layer(_ids(1, 2), segment_ids=_ids(0, 1))
    token_ids = call.pop("token_ids", _ids(1, 2, 3))
    return layer(token_ids, **call)


def _masked_lm_head(positions):
    head = heads.MaskedLMHead(vocabulary_size=10)
    return head(_x(1, 4, 8), mask_positions=np.asarray(positions))


def _extract_head(mask, **kwargs):
    head = heads.ExtractTokenHead(num_classes=2, dropout=0.0, **kwargs)
    return head(_x(1, 4, 8), np.asarray(mask, "int32"))


def cases():
    C = Case
    return [
        # TokenEmbedding / FactorizedEmbedding / TextEmbedding: ids in eager, graph and XLA.
        C("layers.TokenEmbedding", "vocabulary_size=0", lambda s: layers.TokenEmbedding(0, 4)),
        C("layers.TokenEmbedding", "hidden_dim=-1", lambda s: layers.TokenEmbedding(10, -1)),
        C("layers.TokenEmbedding", "token id == V (eager)", lambda s: _token_embedding(_ids(10)), kind=IDS),
        C("layers.TokenEmbedding", "token id -1 (eager)", lambda s: _token_embedding(_ids(-1)), kind=IDS),
        C("layers.TokenEmbedding", "token id == V in a tf.function", lambda s: _token_embedding(_ids(10), "graph"),
          kind=IDS),
        C("layers.TokenEmbedding", "token id -1 under XLA", lambda s: _token_embedding(_ids(-1), "xla"), kind=IDS,
          expect="documented: XLA drops asserts, so the row of an out-of-range id is NaN (never another token's row)",
          check=lambda out: bool(np.isnan(np.asarray(out)).all())),
        C("layers.TokenEmbedding", "float token ids 1.7", lambda s: _token_embedding(np.array([[1.7]], "float32")),
          kind=IDS),
        C("layers.TokenEmbedding", "string token ids", lambda s: _token_embedding(tf.constant([["a"]])), kind=SHAPE),
        C("layers.FactorizedEmbedding", "token id == V", lambda s: layers.FactorizedEmbedding(10, 2, 4)(_ids(10)),
          kind=IDS),
        C("layers.FactorizedEmbedding", "embedding_dim=0", lambda s: layers.FactorizedEmbedding(10, 0, 4)),
        C("layers.TextEmbedding", "segment id 2 with num_segments=2",
          lambda s: _text_embedding(segment_ids=_ids(0, 1, 2)), kind=IDS),
        C("layers.TextEmbedding", "segment id -1", lambda s: _text_embedding(segment_ids=_ids(0, -1, 0)), kind=IDS),
        C("layers.TextEmbedding", "token id == V", lambda s: _text_embedding(token_ids=_ids(1, 10, 2),
                                                                                 segment_ids=_ids(0, 0, 0)), kind=IDS),
        C("layers.TextEmbedding", "segment_ids shorter than token_ids",
          lambda s: _text_embedding(segment_ids=_ids(0, 0)), kind=SHAPE),
        C("layers.TextEmbedding", "9 tokens with max_sequence_length=8",
          lambda s: _text_embedding(token_ids=_ids(*[1] * 9), segment_ids=_ids(*[0] * 9)), kind=SHAPE),
        C("layers.TextEmbedding", "position_encoding='bogus'",
          lambda s: layers.TextEmbedding(10, 4, 8, position_encoding="bogus")),
        C("layers.TextEmbedding", "start_index=6 with 3 tokens, max 8",
          lambda s: _text_embedding(segment_ids=_ids(0, 0, 0), start_index=6), kind=SHAPE),
        # Position layers.
        C("layers.PositionEmbedding", "max_sequence_length=0", lambda s: layers.PositionEmbedding(0)),
        C("layers.PositionEmbedding", "sequence longer than max_sequence_length",
          lambda s: layers.PositionEmbedding(4)(_x(1, 6, 8)), kind=SHAPE),
        C("layers.PositionEmbedding", "start_index=-1", lambda s: layers.PositionEmbedding(8)(_x(1, 2, 8), start_index=-1)),
        C("layers.PositionEmbedding", "float start_index 1.5",
          lambda s: layers.PositionEmbedding(8)(_x(1, 2, 8), start_index=1.5)),
        C("layers.PositionEmbedding", "tensor start_index past the table in a tf.function",
          lambda s: _built_in_graph(layers.PositionEmbedding(8), lambda l, i: l(_x(1, 2, 8), start_index=i),
                                    tf.constant(7)), kind=CACHE),
        C("layers.SinusoidalPositionEncoding", "max_wavelength=0", lambda s: layers.SinusoidalPositionEncoding(0)),
        C("layers.SinusoidalPositionEncoding", "rank-2 input",
          lambda s: layers.SinusoidalPositionEncoding()(_x(2, 8)), kind=SHAPE),
        C("layers.SinusoidalPositionEncoding", "odd hidden width 7",
          lambda s: layers.SinusoidalPositionEncoding()(_x(1, 3, 7)), kind=SHAPE,
          expect="error, or finite encodings of width 7",
          check=lambda out: np.asarray(out).shape == (1, 3, 7) and np.isfinite(np.asarray(out)).all()),
        C("layers.RotaryEmbedding", "odd feature width 5", lambda s: layers.RotaryEmbedding()(_x(1, 2, 3, 5)),
          kind=SHAPE),
        C("layers.RotaryEmbedding", "max_wavelength=-1", lambda s: layers.RotaryEmbedding(max_wavelength=-1)),
        C("layers.RotaryEmbedding", "start_index=-2", lambda s: layers.RotaryEmbedding()(_x(1, 2, 3, 4), start_index=-2)),
        C("layers.RelativePositionEmbedding", "max_distance=0", lambda s: layers.RelativePositionEmbedding(0)),
        C("layers.RelativePositionEmbedding", "query_offset=-1",
          lambda s: layers.RelativePositionEmbedding(4)(_x(1, 2, 3, 4), query_offset=-1)),
        C("layers.RelativePositionBias", "num_buckets=0", lambda s: layers.RelativePositionBias(2, num_buckets=0)),
        C("layers.RelativePositionBias", "max_distance < num_buckets",
          lambda s: layers.RelativePositionBias(2, num_buckets=32, max_distance=4)),
        C("layers.relative_position_bucket", "num_buckets=1",
          lambda s: layers.relative_position_bucket(np.arange(-3, 3), num_buckets=1)),
        C("layers.relative_position_bucket", "float relative positions",
          lambda s: layers.relative_position_bucket(np.array([0.5, -1.5], "float32")), kind=SHAPE),
        # Attention and masks.
        C("layers.MultiHeadAttention", "num_heads=0", lambda s: layers.MultiHeadAttention(num_heads=0)),
        C("layers.MultiHeadAttention", "dropout=1.5", lambda s: layers.MultiHeadAttention(num_heads=2, dropout=1.5)),
        C("layers.MultiHeadAttention", "rank-2 query", lambda s: _mha()(_x(4, 8), _x(4, 8)), kind=SHAPE),
        C("layers.MultiHeadAttention", "attention_mask of shape [1, 3, 3] for T=2, S=4",
          lambda s: _mha()(_x(1, 2, 8), _x(1, 4, 8), attention_mask=np.ones((1, 3, 3), bool)), kind=SHAPE),
        C("layers.MultiHeadAttention", "string attention_mask",
          lambda s: _mha()(_x(1, 2, 8), _x(1, 2, 8), attention_mask=tf.constant([[["a", "b"], ["a", "b"]]])),
          kind=SHAPE),
        C("layers.MultiHeadAttention", "cache_index == L (eager)", lambda s: _mha_cache(6), kind=CACHE),
        C("layers.MultiHeadAttention", "cache_index -1 (eager)", lambda s: _mha_cache(-1), kind=CACHE),
        C("layers.MultiHeadAttention", "cache_index == L as a tensor in a tf.function",
          lambda s: _mha_cache_graph(6), kind=CACHE),
        C("layers.MultiHeadAttention", "cache_index -1 as a tensor under XLA",
          lambda s: _mha_cache_graph(-1, jit=True), kind=CACHE,
          expect="documented: XLA drops asserts, so the output of an out-of-range write is NaN (never silent)",
          check=lambda out: bool(np.isnan(np.asarray(out[0])).all())),
        C("layers.MultiHeadAttention", "cache as one tensor, not a (K, V) pair",
          lambda s: _mha()(_x(1, 1, 8), cache=np.zeros((1, 2, 6, 4), "float32"), cache_index=0), kind=SHAPE),
        C("layers.MultiHeadAttention", "cache_index without a cache",
          lambda s: _mha()(_x(1, 1, 8), cache_index=0), kind=CACHE),
        C("layers.scaled_dot_product_attention", "key head size 4 vs query 3",
          lambda s: layers.scaled_dot_product_attention(_x(1, 2, 3, 3), _x(1, 2, 3, 4), _x(1, 2, 3, 4)), kind=SHAPE),
        C("layers.scaled_dot_product_attention", "dropout=1.0",
          lambda s: layers.scaled_dot_product_attention(_x(1, 2, 3, 4), _x(1, 2, 3, 4), _x(1, 2, 3, 4), dropout=1.0,
                                                        training=True)),
        C("layers.scaled_dot_product_attention", "mask [1, 1, 3, 5] for S=3",
          lambda s: layers.scaled_dot_product_attention(_x(1, 2, 3, 4), _x(1, 2, 3, 4), _x(1, 2, 3, 4),
                                                        attention_mask=np.ones((1, 1, 3, 5), bool)), kind=SHAPE),
        C("layers.scaled_dot_product_attention", "a fully masked query row",
          lambda s: layers.scaled_dot_product_attention(_x(1, 1, 2, 4), _x(1, 1, 2, 4), _x(1, 1, 2, 4),
                                                        attention_mask=np.array([[[[0, 0], [1, 1]]]], bool)),
          kind=NAN, expect="finite output (documented: a fully masked row gives zeros or a finite mean)",
          check=lambda out: np.isfinite(np.asarray(out)).all()),
        C("layers.causal_mask", "query_length=-1", lambda s: layers.causal_mask(-1, 4)),
        C("layers.causal_mask", "offset=-2", lambda s: layers.causal_mask(2, 4, offset=-2)),
        C("layers.padding_mask_to_attention_mask", "rank-3 padding mask",
          lambda s: layers.padding_mask_to_attention_mask(np.ones((1, 2, 3), "int32")), kind=SHAPE),
        C("layers.padding_mask_to_attention_mask", "string padding mask",
          lambda s: layers.padding_mask_to_attention_mask(tf.constant([["a", "b"]])), kind=SHAPE),
        C("layers.merge_masks", "masks [1, 2, 3] and [1, 4, 4]",
          lambda s: layers.merge_masks(np.ones((1, 2, 3), bool), np.ones((1, 4, 4), bool)), kind=SHAPE),
        C("layers.merge_masks", "a float mask of 0.5s", lambda s: layers.merge_masks(np.full((1, 2, 2), 0.5)),
          kind=SHAPE, expect="error, or 0.5 read as 'attend' (nonzero)",
          check=lambda out: bool(np.asarray(out).all())),
        C("layers.get_activation", "'bogus'", lambda s: layers.get_activation("bogus")),
        C("layers.get_activation", "3 (an int)", lambda s: layers.get_activation(3)),
        C("layers.gelu", "string tensor", lambda s: layers.gelu(tf.constant(["a"])), kind=SHAPE),
        C("layers.FeedForward", "intermediate_dim=0", lambda s: layers.FeedForward(0)),
        C("layers.FeedForward", "dropout=-0.1", lambda s: layers.FeedForward(8, dropout=-0.1)),
        C("layers.FeedForward", "activation='nope'", lambda s: layers.FeedForward(8, activation="nope")),
        C("layers.FeedForward", "int32 input", lambda s: layers.FeedForward(8)(np.ones((1, 2, 4), "int32")),
          kind=SHAPE),
        # Blocks.
        C("layers.TransformerEncoderBlock", "num_heads=0", lambda s: layers.TransformerEncoderBlock(0, 16)),
        C("layers.TransformerEncoderBlock", "normalization='bogus'",
          lambda s: layers.TransformerEncoderBlock(2, 16, normalization="bogus")),
        C("layers.TransformerEncoderBlock", "hidden width 7 with 2 heads",
          lambda s: layers.TransformerEncoderBlock(2, 16)(_x(1, 3, 7)), kind=SHAPE),
        C("layers.TransformerEncoderBlock", "padding_mask [1, 5] for 4 tokens",
          lambda s: layers.TransformerEncoderBlock(2, 16)(_x(1, 4, 8), padding_mask=np.ones((1, 5), "int32")),
          kind=SHAPE),
        C("layers.TransformerEncoderBlock", "NaN features at a padded position", lambda s: _encoder_block_nan(),
          kind=NAN, expect="finite outputs at the 3 real positions", check=_finite_rows(slice(0, 3))),
        C("layers.TransformerDecoderBlock", "cross_attention=True but no encoder_sequence",
          lambda s: layers.TransformerDecoderBlock(2, 16)(_x(1, 2, 8)), kind=SHAPE),
        C("layers.TransformerDecoderBlock", "self_attention_cache_index == L", lambda s: _decoder_block_cache(4),
          kind=CACHE),
        C("layers.TransformerDecoderBlock", "self_attention_cache_index -1", lambda s: _decoder_block_cache(-1),
          kind=CACHE),
        C("layers.TransformerDecoderBlock", "intermediate_dim=0", lambda s: layers.TransformerDecoderBlock(2, 0)),
        # Heads.
        C("heads.MaskedLMHead", "mask position == T", lambda s: _masked_lm_head([[1, 4]]), kind=IDS),
        C("heads.MaskedLMHead", "mask position -1", lambda s: _masked_lm_head([[-1, 0]]), kind=IDS),
        C("heads.MaskedLMHead", "float mask positions", lambda s: _masked_lm_head(np.array([[0.5]], "float32")),
          kind=SHAPE),
        C("heads.MaskedLMHead", "vocabulary_size=0", lambda s: heads.MaskedLMHead(vocabulary_size=0)),
        C("heads.MaskedLMHead", "mask positions in a tf.function, position == T",
          lambda s: _built_in_graph(heads.MaskedLMHead(vocabulary_size=10),
                                    lambda l, p: l(_x(1, 4, 8), mask_positions=p), tf.constant([[4]])), kind=IDS),
        C("heads.ClassificationHead", "num_classes=0", lambda s: heads.ClassificationHead(0)),
        C("heads.ClassificationHead", "dropout=1.0", lambda s: heads.ClassificationHead(2, dropout=1.0)),
        C("heads.TokenClassificationHead", "num_classes=-1", lambda s: heads.TokenClassificationHead(-1)),
        C("heads.NextSentenceHead", "num_classes=0", lambda s: heads.NextSentenceHead(num_classes=0)),
        C("heads.ExtractTokenHead", "combine='bogus'", lambda s: heads.ExtractTokenHead(2, combine="bogus")),
        C("heads.ExtractTokenHead", "num_sequences=0", lambda s: heads.ExtractTokenHead(2, num_sequences=0)),
        C("heads.ExtractTokenHead", "an all-padding row (no token to extract)", lambda s: _extract_head([[0, 0, 0, 0]]),
          kind=NAN),
        C("heads.ExtractTokenHead", "padding_mask [1, 3] for 4 tokens", lambda s: _extract_head([[1, 1, 1]]),
          kind=SHAPE),
        C("heads.CausalLMHead", "token_embedding is a Dense layer",
          lambda s: heads.CausalLMHead(__import__("keras").layers.Dense(4))(_x(1, 2, 4))),
    ]
