"""RoBERTa (HF `model_type` "roberta"): RobertaModel / RobertaForMaskedLM /
RobertaForSequenceClassification directories -> RobertaBackbone and tasks.

Positions: HF numbers real tokens from `pad_token_id + 1`
(`create_position_ids_from_input_ids`); its `max_position_embeddings`-row table
(514 for the base model) is RobertaBackbone's table as is, with
max_sequence_length = max_position_embeddings - pad_token_id - 1. Inputs must
be right-padded (see RobertaBackbone).

Token types: HF adds `token_type_embeddings` row 0 to every token (its
`type_vocab_size` is 1); the backbone has no segment input, so that row is
added to every row of the position table, which gives the same sum.

Heads: `lm_head` (dense, exact gelu, layer_norm, decoder tied to the token
table, bias) -> RobertaPretrainer's MLM head; `classifier` (dense + tanh on <s>,
then out_proj) -> the backbone's pooler (dense + tanh) and TextClassifier's
dense, the same computation.
"""

from kerasnlp_lite.checkpoints import hf_common as common

PREFIXES = ("", "roberta.")
IGNORE = ("lm_head.", "classifier.", "pooler.")


def backbone_kwargs(config):
    common.check_absolute_positions(config)
    if config.get("is_decoder") or config.get("add_cross_attention"):
        raise common.CheckpointError("Decoder (causal or cross-attention) RoBERTa checkpoints are not supported.")
    pad_token_id = config.get("pad_token_id", 1)
    table_rows = config.get("max_position_embeddings", 512)
    if table_rows <= pad_token_id + 1:
        raise common.CheckpointError(
            f"max_position_embeddings={table_rows} leaves no positions after the "
            f"{pad_token_id + 1} rows reserved by pad_token_id={pad_token_id}."
        )
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        max_sequence_length=table_rows - pad_token_id - 1,
        pad_token_id=pad_token_id,
        dropout=config.get("hidden_dropout_prob", 0.1),
        activation=common.activation(config),
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),  # HF's default; released checkpoints set 1e-5
    )


def load_backbone(backbone, weights):
    embedding = backbone.embedding
    weights.assign(embedding.token_embedding.embeddings, "embeddings.word_embeddings.weight")
    token_type = 0.0
    if weights.has("embeddings.token_type_embeddings.weight"):
        table = weights.get("embeddings.token_type_embeddings.weight")
        if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] != backbone.hidden_dim:
            raise common.CheckpointError(
                f"Shape mismatch for 'embeddings.token_type_embeddings.weight': {table.shape}, "
                f"expected (type_vocab_size, {backbone.hidden_dim})."
            )
        token_type = table[0]  # HF's default token_type_ids are all 0
    weights.assign(
        embedding.position_embedding.embeddings, "embeddings.position_embeddings.weight", lambda p: p + token_type
    )
    common.layer_norm(weights, embedding.layer_norm, "embeddings.LayerNorm")
    common.bert_encoder_layers(weights, backbone)


def load(config, weights, task, num_classes):
    from kerasnlp_lite import models

    backbone = models.RobertaBackbone(**backbone_kwargs(config))
    load_backbone(backbone, weights)
    if task in ("masked_lm", "pretraining"):
        # RoBERTa pretrains with MLM alone: "pretraining" is "masked_lm".
        if backbone.activation != "gelu":
            # HF's RobertaLMHead applies exact gelu whatever `hidden_act` is; our head follows the backbone.
            raise common.CheckpointError(
                f"hidden_act={config.get('hidden_act')!r}: the masked-LM head of this loader needs 'gelu'."
            )
        model = models.RobertaPretrainer(backbone)
        common.mlm_head(weights, model.mlm_head, "lm_head.dense", "lm_head.layer_norm", "lm_head.bias")
        weights.tied("lm_head.decoder.weight", "embeddings.word_embeddings.weight")
        weights.tied("lm_head.decoder.bias", "lm_head.bias")
        return model
    if task == "classifier":
        dropout = config.get("classifier_dropout")
        model = models.TextClassifier(
            backbone, num_classes=common.num_labels(config, num_classes),
            dropout=config.get("hidden_dropout_prob", 0.1) if dropout is None else dropout,
        )
        if weights.has("classifier.dense.weight"):
            common.dense(weights, backbone.pooler, "classifier.dense")
            common.dense(weights, model.get_layer("classifier_head").dense, "classifier.out_proj")
        return model
    if task == "embedder":
        return models.TextEmbedder(backbone, normalize=True)
    return backbone
