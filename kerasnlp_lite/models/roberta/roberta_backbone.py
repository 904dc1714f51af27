"""RoBERTa (Liu et al. 2019, https://arxiv.org/abs/1907.11692)."""

import keras

from kerasnlp_lite.layers import TextEmbedding
from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.models.encoder_stack import bert_initializer, cls_pooler, encoder_block, first_token
from kerasnlp_lite.models.roberta.roberta_presets import ROBERTA_PRESETS
from kerasnlp_lite.utils.validation import check_backbone_sizes, check_positive_int


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RobertaBackbone(Backbone):
    """RoBERTa encoder: BERT's post-LN architecture without segment embeddings.

    RoBERTa changes BERT's training (dynamic masking, no NSP, larger batches,
    byte-level BPE), not its blocks; the backbone differs only in having no
    segment (token type) input and in where its positions start.

    Position offset: fairseq (and so the released checkpoints and HF's
    `create_position_ids_from_input_ids`) numbers real tokens from
    `pad_token_id + 1` and gives padding tokens the position `pad_token_id`. The
    learned table therefore has `max_sequence_length + pad_token_id + 1` rows
    (514 for the base model) and this backbone reads positions from
    `start_index = pad_token_id + 1`. For right-padded inputs (every real token
    before every pad) this equals HF's position ids at every real token;
    padded positions get other rows than HF's `pad_token_id` row, which never
    affects real tokens (padding is masked out of attention and each position
    is embedded independently). Left-padded inputs would shift positions:
    pad on the right.

    Inputs (int32, `[B, T]`, T <= `max_sequence_length`): `token_ids`,
    `padding_mask` (1 at real tokens). Outputs, a dict: `sequence_output`
    `[B, T, D]` and `pooled_output` `[B, D]`, the <s> vector through dense +
    tanh. RoBERTa has no pooler of its own (its classification head,
    dense + tanh + dense on <s>, is trained with the task); `pooled_output` is
    kept so that every encoder backbone has the same output contract, and is
    untrained in converted checkpoints.

    Args:
        vocabulary_size: byte-level BPE vocabulary size (50265).
        num_layers: encoder blocks.
        num_heads: attention heads.
        hidden_dim: D.
        intermediate_dim: feed-forward width (4H).
        max_sequence_length: longest input T (512); the position table has
            `pad_token_id + 1` more rows.
        pad_token_id: the <pad> token id (1), which sets the position offset.
        dropout: dropout rate everywhere (0.1).
        activation: feed-forward activation ("gelu", exact).
        layer_norm_epsilon: 1e-5 as fairseq.
        dtype: a dtype policy name, e.g. "mixed_bfloat16".

    Example:
    >>> backbone = RobertaBackbone.from_preset("roberta_base")
    >>> outputs = backbone({"token_ids": ids, "padding_mask": mask})

    Reference:
        Liu et al. 2019, "RoBERTa: A Robustly Optimized BERT Pretraining Approach".
    """

    PRESETS = ROBERTA_PRESETS

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        max_sequence_length=512,
        pad_token_id=1,
        dropout=0.1,
        activation="gelu",
        layer_norm_epsilon=1e-5,
        dtype=None,
        **kwargs,
    ):
        check_backbone_sizes(
            vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, dropout, max_sequence_length,
            layer_norm_epsilon=layer_norm_epsilon,
        )
        check_positive_int(pad_token_id, "pad_token_id", minimum=0)
        if pad_token_id >= vocabulary_size:
            raise ValueError(
                f"`pad_token_id` must be a token id below vocabulary_size={vocabulary_size}, got {pad_token_id}."
            )
        # fairseq: real tokens at positions pad_token_id + 1, ...; rows 0..pad_token_id are reserved.
        position_offset = pad_token_id + 1

        # === Layers ===
        embedding = TextEmbedding(
            vocabulary_size=vocabulary_size,
            hidden_dim=hidden_dim,
            max_sequence_length=max_sequence_length + position_offset,
            num_segments=0,
            use_layer_norm=True,
            layer_norm_epsilon=layer_norm_epsilon,
            dropout=dropout,
            embeddings_initializer=bert_initializer(),  # RoBERTa keeps BERT's init
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
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = embedding(token_ids, start_index=position_offset)
        for block in blocks:
            x = block(x, padding_mask=padding_mask)
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
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
            pad_token_id=pad_token_id,
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
