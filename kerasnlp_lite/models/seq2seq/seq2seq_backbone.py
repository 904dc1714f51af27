"""The contract shared by the encoder-decoder backbones, and their wiring.

Shape legend: B = batch, S = encoder (source) length, T = decoder tokens of
this call, L = cache length (`max_length` of generation), N = heads,
H = head size, D = hidden_dim.

Every seq2seq backbone is a functional model with inputs (int32)
`encoder_token_ids` `[B, S]`, `encoder_padding_mask` `[B, S]`,
`decoder_token_ids` `[B, T]`, `decoder_padding_mask` `[B, T]` (1 at real
tokens) and a dict of outputs `encoder_sequence_output` `[B, S, D]` and
`decoder_sequence_output` `[B, T, D]`. The same layers also run outside the
graph for generation: `encode` once per source, then `init_cache` (the
encoder keys/values of every cross-attention layer, computed once, and zero
self-attention K/V caches) and `call_with_cache` one decoder chunk at a time.
"""

import numpy as np
from keras import ops

from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.utils.validation import check_backbone_sizes, check_cache_index, check_positive_int

INPUT_NAMES = ("encoder_token_ids", "encoder_padding_mask", "decoder_token_ids", "decoder_padding_mask")


class Embedder:
    """Not a layer: token embedding (shared or not), scale, positions, LayerNorm, dropout, in that order."""

    def __init__(self, token_embedding, positions=None, position_offset=0, scale=1.0, norm=None, dropout=None):
        self.token_embedding = token_embedding
        self.positions = positions
        self.position_offset = position_offset
        self.scale = scale
        self.norm = norm
        self.dropout = dropout

    def __call__(self, token_ids, start_index=0, training=None):
        x = self.token_embedding(token_ids)
        if self.scale != 1.0:
            x = x * ops.cast(self.scale, x.dtype)
        if self.positions is not None:
            x = x + self.positions(x, start_index=start_index + self.position_offset)
        if self.norm is not None:
            x = self.norm(x)
        if self.dropout is not None:
            x = self.dropout(x, training=training)
        return x


class Seq2SeqWiring:
    """Not a layer: how the layers of an encoder-decoder connect.

    Used once on symbolic inputs to build the functional graph and again on
    tensors for cached decoding, so both paths run the same layers and weights.

    Args:
        encoder_embedding, decoder_embedding: `Embedder`s.
        encoder_blocks, decoder_blocks: lists of Transformer blocks
            (decoder blocks with cross-attention).
        encoder_position_bias, decoder_position_bias: optional
            `RelativePositionBias` layers (T5), computed once per call and
            added in every block's self-attention.
        encoder_final_norm, decoder_final_norm: optional norms after the
            last block (pre-LN models).
        final_dropout: optional dropout after the final norms (T5).
    """

    def __init__(
        self,
        encoder_embedding,
        decoder_embedding,
        encoder_blocks,
        decoder_blocks,
        encoder_position_bias=None,
        decoder_position_bias=None,
        encoder_final_norm=None,
        decoder_final_norm=None,
        final_dropout=None,
    ):
        self.encoder_embedding = encoder_embedding
        self.decoder_embedding = decoder_embedding
        self.encoder_blocks = encoder_blocks
        self.decoder_blocks = decoder_blocks
        self.encoder_position_bias = encoder_position_bias
        self.decoder_position_bias = decoder_position_bias
        self.encoder_final_norm = encoder_final_norm
        self.decoder_final_norm = decoder_final_norm
        self.final_dropout = final_dropout

    def functional_graph(self):
        """The symbolic inputs and outputs of the backbone's functional model."""
        inputs = {name: _input(name) for name in INPUT_NAMES}
        encoder_output = self.encode(inputs["encoder_token_ids"], inputs["encoder_padding_mask"])
        decoder_output = self.decode(
            inputs["decoder_token_ids"], inputs["decoder_padding_mask"], encoder_output, inputs["encoder_padding_mask"]
        )
        return inputs, {"encoder_sequence_output": encoder_output, "decoder_sequence_output": decoder_output}

    def _final(self, x, norm, training):
        if norm is not None:
            x = norm(x)
        if self.final_dropout is not None:
            x = self.final_dropout(x, training=training)
        return x

    def encode(self, token_ids, padding_mask, training=None):
        x = self.encoder_embedding(token_ids, training=training)
        bias = self.encoder_position_bias(x) if self.encoder_position_bias is not None else None
        for block in self.encoder_blocks:
            x = block(x, padding_mask=padding_mask, position_bias=bias, training=training)
        return self._final(x, self.encoder_final_norm, training)

    def decode(
        self,
        token_ids,
        padding_mask,
        encoder_output=None,
        encoder_padding_mask=None,
        self_caches=None,
        cache_index=None,
        cross_caches=None,
        training=None,
    ):
        start = 0 if cache_index is None else cache_index
        x = self.decoder_embedding(token_ids, start_index=start, training=training)
        bias = None
        if self.decoder_position_bias is not None:
            key_length = None if self_caches is None else int(self_caches[0][0].shape[2])
            bias = self.decoder_position_bias(x, key_length=key_length, query_offset=start)
        updated = []
        for i, block in enumerate(self.decoder_blocks):
            kwargs = dict(
                decoder_padding_mask=padding_mask,
                encoder_padding_mask=encoder_padding_mask,
                position_bias=bias,
                training=training,
            )
            if cross_caches is not None:
                kwargs["cross_attention_cache"] = tuple(cross_caches[i])
            else:
                kwargs["encoder_sequence"] = encoder_output
            if self_caches is not None:
                x, cache = block(
                    x, self_attention_cache=tuple(self_caches[i]), self_attention_cache_index=cache_index, **kwargs
                )
                updated.append(cache)
            else:
                x = block(x, **kwargs)
        x = self._final(x, self.decoder_final_norm, training)
        return (x, updated) if self_caches is not None else x


class Seq2SeqBackbone(Backbone):
    """Base of `TransformerSeq2Seq`, `BartBackbone` and `T5Backbone`.

    Subclasses are built in the three sections every backbone has (layers,
    functional model, config): the layers, joined by a `Seq2SeqWiring`; then
    `super().__init__(inputs, outputs)` on `wiring.functional_graph()` (the
    shared input/output contract of the module docstring) and `attach(wiring)`,
    so that cached decoding runs the same layers; then `set_config(...)`.

    Class attributes give the token layout their checkpoints use, the
    defaults of `Seq2SeqLM`: `PAD_TOKEN_ID`, `END_TOKEN_ID`,
    `DECODER_START_TOKEN_ID`. `logit_scale` multiplies the decoder output
    before the tied output projection (T5: hidden_dim ** -0.5).
    """

    PAD_TOKEN_ID = 0
    END_TOKEN_ID = 2
    DECODER_START_TOKEN_ID = 1

    def attach(self, wiring):
        """Keeps the wiring (call after the functional model is built)."""
        self._wiring = wiring
        self.encoder_blocks = list(wiring.encoder_blocks)
        self.decoder_blocks = list(wiring.decoder_blocks)

    # --- the contract -----------------------------------------------------
    logit_scale = 1.0
    max_sequence_length = None  # None: no limit (relative positions)

    @property
    def token_embedding(self):
        """The decoder's token table, tied to the output projection."""
        return self._wiring.decoder_embedding.token_embedding

    def call(self, inputs, training=None, mask=None):
        check_seq2seq_inputs(inputs, self.max_sequence_length)
        return super().call(inputs, training=training, mask=mask)  # checks the input names too

    # --- generation -------------------------------------------------------
    def encode(self, encoder_token_ids, encoder_padding_mask):
        """Encoder output `[B, S, D]` (inference)."""
        return self._wiring.encode(encoder_token_ids, encoder_padding_mask, training=False)

    def decode(self, decoder_token_ids, decoder_padding_mask, encoder_output, encoder_padding_mask):
        """Decoder output `[B, T, D]` over a whole decoder sequence, without a cache (inference)."""
        return self._wiring.decode(
            decoder_token_ids, decoder_padding_mask, encoder_output, encoder_padding_mask, training=False
        )

    def init_cache(self, encoder_output, encoder_padding_mask, max_length):
        """The decoding state: a dict of
        - `self`: per decoder layer, zero `(key, value)` caches `[B, N, L, H]`;
        - `cross`: per decoder layer, the encoder's keys/values `[B, N, S, H]`,
          computed here once;
        - `encoder_padding_mask` `[B, S]`.
        Per-layer rank-4 tensors (TFLite needs Flex ops above rank 5)."""
        if isinstance(max_length, (int, np.integer)):
            check_positive_int(int(max_length), "max_length")
            if self.max_sequence_length is not None and max_length > self.max_sequence_length:
                raise ValueError(
                    f"`max_length`={max_length} exceeds the backbone's max_sequence_length={self.max_sequence_length}."
                )
        mask = encoder_padding_mask
        mask_shape = tuple(mask.shape) if hasattr(mask, "shape") else np.shape(mask)
        output_shape = tuple(encoder_output.shape)
        if len(mask_shape) != 2 or any(
            m is not None and o is not None and m != o for m, o in zip(mask_shape, output_shape[:2])
        ):
            raise ValueError(
                f"`encoder_padding_mask` must have shape [batch, source_length] = {output_shape[:2]} (from "
                f"`encoder_output` {output_shape}), got {mask_shape}."
            )
        batch_size = ops.shape(encoder_output)[0]
        self_caches, cross_caches = [], []
        for block in self.decoder_blocks:
            attention = block.self_attention
            shape = (batch_size, attention.num_heads, max_length, attention._key_dim)
            value_shape = (batch_size, attention.num_heads, max_length, attention._value_dim)
            self_caches.append((ops.zeros(shape, self.compute_dtype), ops.zeros(value_shape, self.compute_dtype)))
            cross_caches.append(tuple(block.compute_cross_attention_cache(encoder_output)))
        return {
            "self": self_caches,
            "cross": cross_caches,
            "encoder_padding_mask": ops.cast(encoder_padding_mask, "int32"),
        }

    def call_with_cache(self, decoder_token_ids, cache, cache_index):
        """Runs decoder tokens `[B, T]` at positions `cache_index .. cache_index + T - 1`.

        Returns `(hidden [B, T, D], updated cache)`; inference only. Decoder
        inputs are right-padded, so the causal mask alone hides later slots.
        """
        if len(cache["self"]) != len(self.decoder_blocks):
            raise ValueError(
                f"`cache['self']` must hold {len(self.decoder_blocks)} (key, value) pairs, got {len(cache['self'])}."
            )
        # Here, not only in the attention layers: T5's position bias would first fail on a negative offset.
        check_cache_index(cache_index, ops.shape(decoder_token_ids)[1], cache["self"][0][0].shape[2])
        hidden, self_caches = self._wiring.decode(
            decoder_token_ids,
            None,
            encoder_padding_mask=cache["encoder_padding_mask"],
            self_caches=cache["self"],
            cache_index=cache_index,
            cross_caches=cache["cross"],
            training=False,
        )
        return hidden, dict(cache, self=self_caches)


def make_blocks(num_layers, num_decoder_layers, num_heads, intermediate_dim, **block_kwargs):
    """`num_layers` encoder blocks and `num_decoder_layers` decoder blocks (with cross-attention)."""
    from kerasnlp_lite.layers import TransformerDecoderBlock, TransformerEncoderBlock

    encoder_blocks = [
        TransformerEncoderBlock(num_heads, intermediate_dim, name=f"encoder_block_{i}", **block_kwargs)
        for i in range(num_layers)
    ]
    decoder_blocks = [
        TransformerDecoderBlock(num_heads, intermediate_dim, cross_attention=True, name=f"decoder_block_{i}",
                                **block_kwargs)
        for i in range(num_decoder_layers)
    ]
    return encoder_blocks, decoder_blocks


def _input(name):
    import keras

    return keras.Input(shape=(None,), dtype="int32", name=name)


def _static_shape(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        return np.shape(x)
    return tuple(shape)


def check_seq2seq_inputs(inputs, max_sequence_length=None):
    """Clear errors for inconsistent seq2seq inputs with known shapes (eager calls)."""
    if not isinstance(inputs, dict):
        return
    shapes = {name: _static_shape(inputs[name]) for name in INPUT_NAMES if name in inputs}
    for name, shape in shapes.items():
        if len(shape) != 2:
            raise ValueError(f"`{name}` must have shape [batch, length], got shape {shape}.")
    batch = {name: shape[0] for name, shape in shapes.items() if shape[0] is not None}
    if len(set(batch.values())) > 1:
        raise ValueError(
            f"Encoder and decoder inputs must have the same batch size; got {batch}."
        )
    for side in ("encoder", "decoder"):
        ids, mask = shapes.get(f"{side}_token_ids"), shapes.get(f"{side}_padding_mask")
        if ids and mask and None not in (ids[1], mask[1]) and ids[1] != mask[1]:
            raise ValueError(f"`{side}_padding_mask` shape {mask} differs from `{side}_token_ids` shape {ids}.")
        if max_sequence_length is not None and ids and ids[1] is not None and ids[1] > max_sequence_length:
            raise ValueError(
                f"`{side}_token_ids` has length {ids[1]}, longer than the backbone's "
                f"max_sequence_length={max_sequence_length}; shorten the inputs (nothing is truncated silently)."
            )


def check_sizes(
    vocabulary_size, num_layers, num_decoder_layers, num_heads, hidden_dim, intermediate_dim, dropout,
    max_sequence_length=None, head_dim_divides=True, layer_norm_epsilon=None,
):
    """`check_backbone_sizes` plus `num_decoder_layers`, for the encoder-decoder backbones."""
    check_backbone_sizes(
        vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, dropout, max_sequence_length,
        head_dim_divides=head_dim_divides, layer_norm_epsilon=layer_norm_epsilon,
    )
    check_positive_int(num_decoder_layers, "num_decoder_layers", allow_none=True)
