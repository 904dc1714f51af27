"""ALBERT (Lan et al. 2019, https://arxiv.org/abs/1909.11942)."""

import keras

from kerasnlp_lite.layers import TextEmbedding
from kerasnlp_lite.models.albert.albert_presets import ALBERT_PRESETS
from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.models.encoder_stack import bert_initializer, cls_pooler, encoder_block, first_token
from kerasnlp_lite.utils.validation import check_backbone_sizes, check_positive_int


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class AlbertBackbone(Backbone):
    """ALBERT encoder: BERT with a factorized embedding and cross-layer parameter sharing.

    Two parameter reductions (Lan et al. 2019, section 3.1):
    - factorized embedding: token, segment and position tables have width
      E = `embedding_dim`; their LayerNorm'd sum is projected E -> D, so the
      vocabulary costs V*E + E*D instead of V*D;
    - cross-layer sharing: `num_groups` groups of `num_inner_repetitions`
      distinct blocks. Layer i (of `num_layers`) runs every block of group
      i // (num_layers // num_groups) in turn, so the network applies
      num_layers * num_inner_repetitions blocks but holds only
      num_groups * num_inner_repetitions of them. A shared block is the same
      layer object called repeatedly. The paper's models share all layers
      (one group, one block).

    Inputs (int32, `[B, T]`): `token_ids`, `segment_ids` (0 for sentence A,
    1 for B), `padding_mask` (1 at real tokens). Outputs, a dict:
    `sequence_output` `[B, T, D]` and `pooled_output` `[B, D]` (the [CLS]
    vector through dense + tanh, the input of the sentence-order head).

    Args:
        vocabulary_size: SentencePiece vocabulary size (30000 for ALBERT).
        num_layers: encoder layers L (blocks applied per group times groups).
        num_heads: attention heads.
        hidden_dim: D.
        intermediate_dim: feed-forward width (4H).
        embedding_dim: E, the width of the embedding tables (128).
        num_groups: groups of shared blocks; must divide `num_layers`.
        num_inner_repetitions: distinct blocks per group, run in sequence.
        max_sequence_length: positions of the learned position table.
        num_segments: segment (token type) vocabulary.
        dropout: dropout rate everywhere (ALBERT pretrains without dropout,
            section 4.9).
        activation: feed-forward activation ("gelu_tanh", as ALBERT's
            `gelu_new`).
        layer_norm_epsilon: 1e-12 as BERT.
        dtype: a dtype policy name, e.g. "mixed_bfloat16".

    Example:
    >>> backbone = AlbertBackbone.from_preset("albert_base")
    >>> outputs = backbone({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})

    Reference:
        Lan et al. 2019, "ALBERT: A Lite BERT for Self-supervised Learning of
        Language Representations".
    """

    PRESETS = ALBERT_PRESETS

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        embedding_dim=128,
        num_groups=1,
        num_inner_repetitions=1,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.0,
        activation="gelu_tanh",
        layer_norm_epsilon=1e-12,
        dtype=None,
        **kwargs,
    ):
        check_backbone_sizes(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, dropout, max_sequence_length,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        check_positive_int(embedding_dim, "embedding_dim")
        check_positive_int(num_segments, "num_segments", minimum=0)
        check_positive_int(num_groups, "num_groups")
        check_positive_int(num_inner_repetitions, "num_inner_repetitions")
        if num_layers % num_groups:
            raise ValueError(
                f"`num_layers` must be divisible by `num_groups`, got num_layers={num_layers} "
                f"and num_groups={num_groups}."
            )

        # === Layers ===
        embedding = TextEmbedding(
            vocabulary_size=vocabulary_size,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            embedding_dim=embedding_dim,
            use_layer_norm=True,
            layer_norm_epsilon=layer_norm_epsilon,
            dropout=dropout,
            embeddings_initializer=bert_initializer(),  # ALBERT keeps BERT's init
            dtype=dtype,
            name="embeddings",
        )
        # groups[g][j]: the j-th distinct block of group g.
        groups = [
            [
                encoder_block(
                    f"group_{g}_encoder_block_{j}", num_heads, intermediate_dim, dropout, activation,
                    layer_norm_epsilon, dtype,
                )
                for j in range(num_inner_repetitions)
            ]
            for g in range(num_groups)
        ]
        pooler = cls_pooler(hidden_dim, dtype)

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = embedding(token_ids, segment_ids=segment_ids)  # [B, T, E] summed, then projected to [B, T, D]
        layers_per_group = num_layers // num_groups
        for i in range(num_layers):
            # Cross-layer sharing: the same block objects, hence the same weights, at every layer of a group.
            for block in groups[i // layers_per_group]:
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
            embedding_dim=embedding_dim,
            num_groups=num_groups,
            num_inner_repetitions=num_inner_repetitions,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        self.embedding = embedding
        # The distinct blocks, group-major: block j of group g is encoder_blocks[g * num_inner_repetitions + j].
        self.encoder_blocks = [block for group in groups for block in group]
        self.pooler = pooler

    @property
    def token_embedding(self):
        """The V x E token table (a `TokenEmbedding` of width E) that the masked-LM output layer ties.

        ALBERT's MLM head maps D -> E before the tied decoder, so the head
        needs the E-wide table, not the whole `FactorizedEmbedding` (whose
        `embedding.token_embedding.projection` is the E -> D input projection).
        """
        return self.embedding.token_embedding.token_embedding
