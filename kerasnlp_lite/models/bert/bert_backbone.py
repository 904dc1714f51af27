"""BERT (Devlin et al. 2019, https://arxiv.org/abs/1810.04805)."""

import keras

from kerasnlp_lite.layers import TextEmbedding
from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.models.bert.bert_presets import BERT_PRESETS
from kerasnlp_lite.models.encoder_stack import bert_initializer, cls_pooler, encoder_block, first_token
from kerasnlp_lite.utils.validation import check_backbone_sizes, check_positive_int


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class BertBackbone(Backbone):
    """BERT encoder: token + segment + learned position embeddings, post-LN blocks.

    Inputs (int32, `[B, T]`): `token_ids`, `segment_ids` (0 for sentence A,
    1 for B), `padding_mask` (1 at real tokens). Outputs, a dict:
    `sequence_output` `[B, T, D]` and `pooled_output` `[B, D]` (the [CLS]
    vector through dense + tanh, the input of BERT's NSP/classification).

    Args:
        vocabulary_size: WordPiece vocabulary size (30522 for English BERT).
        num_layers: encoder blocks L.
        num_heads: attention heads A.
        hidden_dim: D.
        intermediate_dim: feed-forward width (4H).
        max_sequence_length: positions of the learned position table.
        num_segments: segment (token type) vocabulary.
        dropout: dropout rate everywhere (0.1 in BERT).
        activation: feed-forward activation ("gelu", exact, as BERT).
        layer_norm_epsilon: 1e-12 as BERT.
        dtype: a dtype policy name, e.g. "mixed_bfloat16".

    Example:
    >>> backbone = BertBackbone.from_preset("bert_tiny")
    >>> outputs = backbone({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    """

    PRESETS = BERT_PRESETS

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        dtype=None,
        **kwargs,
    ):
        check_backbone_sizes(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, dropout, max_sequence_length,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        check_positive_int(num_segments, "num_segments", minimum=0)

        # === Layers ===
        embedding = TextEmbedding(
            vocabulary_size=vocabulary_size,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            use_layer_norm=True,
            layer_norm_epsilon=layer_norm_epsilon,
            dropout=dropout,
            embeddings_initializer=bert_initializer(),
            dtype=dtype,
            name="embeddings",
        )
        blocks = [
            encoder_block(f"encoder_block_{i}", num_heads, intermediate_dim, dropout, activation, layer_norm_epsilon, dtype)
            for i in range(num_layers)
        ]
        pooler = cls_pooler(hidden_dim, dtype)

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = embedding(token_ids, segment_ids=segment_ids)
        for block in blocks:
            x = block(x, padding_mask=padding_mask)
        super().__init__(
            inputs={"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            outputs={"sequence_output": x, "pooled_output": pooler(first_token(x))},
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.set_config(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        self.embedding = embedding
        self.encoder_blocks = blocks
        self.pooler = pooler

    @property
    def token_embedding(self):
        """The token table (tied to the masked-LM output layer)."""
        return self.embedding.token_embedding
