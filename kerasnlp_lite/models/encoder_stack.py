"""Pieces shared by the BERT-family backbones (BERT, ALBERT, RoBERTa)."""

import keras
from keras import ops

from kerasnlp_lite.layers import TransformerEncoderBlock


def bert_initializer():
    # BERT (and ALBERT, RoBERTa after it) initialises every weight matrix with
    # a truncated normal, std 0.02.
    return keras.initializers.TruncatedNormal(stddev=0.02)


def encoder_block(name, num_heads, intermediate_dim, dropout, activation, layer_norm_epsilon, dtype):
    """A post-LN encoder block with BERT's initialisation."""
    return TransformerEncoderBlock(
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        activation=activation,
        layer_norm_epsilon=layer_norm_epsilon,
        kernel_initializer=bert_initializer(),
        dtype=dtype,
        name=name,
    )


def cls_pooler(hidden_dim, dtype):
    """BERT's pooler: dense + tanh on the first ([CLS]) position."""
    return keras.layers.Dense(
        hidden_dim, activation="tanh", kernel_initializer=bert_initializer(), dtype=dtype, name="pooler"
    )


def first_token(sequence):
    """`[B, T, H]` -> `[B, H]`: the [CLS] (or <s>) position."""
    return ops.take(sequence, 0, axis=1)
