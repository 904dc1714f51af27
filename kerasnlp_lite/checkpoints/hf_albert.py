"""ALBERT (HF `model_type` "albert"): AlbertModel / AlbertForMaskedLM / AlbertForPreTraining /
AlbertForSequenceClassification directories -> AlbertBackbone and tasks.

Name map: the E-wide tables and their LayerNorm under `embeddings.`, the E -> D
projection `encoder.embedding_hidden_mapping_in`, and the shared blocks
`encoder.albert_layer_groups.{g}.albert_layers.{j}` -> `encoder_blocks[g * inner_group_num + j]`
(HF runs group int(i / (L / G)) at layer i, as AlbertBackbone does). The MLM
head (`predictions.`: dense D -> E, `hidden_act`, LayerNorm, decoder tied to the
token table) and the sentence-order head (`sop_classifier.classifier`) map to
AlbertPretrainer's heads.
"""

from kerasnlp_lite.checkpoints import hf_common as common

PREFIXES = ("", "albert.")
IGNORE = ("predictions.", "sop_classifier.", "classifier.", "pooler.")


def backbone_kwargs(config):
    common.check_absolute_positions(config)
    layers, groups = config["num_hidden_layers"], config.get("num_hidden_groups", 1)
    if layers % groups:
        raise common.CheckpointError(f"num_hidden_layers={layers} is not a multiple of num_hidden_groups={groups}.")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=layers,
        num_heads=config["num_attention_heads"],
        hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        embedding_dim=config.get("embedding_size", 128),
        num_groups=groups,
        num_inner_repetitions=config.get("inner_group_num", 1),
        max_sequence_length=config.get("max_position_embeddings", 512),
        num_segments=config.get("type_vocab_size", 2),
        dropout=config.get("hidden_dropout_prob", 0.0),
        activation=common.activation(config, default="gelu_new"),  # gelu_new -> "gelu_tanh"
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
    )


def load_backbone(backbone, weights):
    embedding = backbone.embedding
    weights.assign(embedding.token_embedding.token_embedding.embeddings, "embeddings.word_embeddings.weight")
    weights.assign(embedding.position_embedding.embeddings, "embeddings.position_embeddings.weight")
    weights.assign(embedding.segment_embedding.embeddings, "embeddings.token_type_embeddings.weight")
    common.layer_norm(weights, embedding.layer_norm, "embeddings.LayerNorm")
    common.dense(weights, embedding.token_embedding.projection, "encoder.embedding_hidden_mapping_in")
    inner = backbone.num_inner_repetitions
    for index, block in enumerate(backbone.encoder_blocks):
        p = f"encoder.albert_layer_groups.{index // inner}.albert_layers.{index % inner}"
        common.encoder_block(
            weights, block,
            attention_names=(f"{p}.attention.query", f"{p}.attention.key", f"{p}.attention.value",
                             f"{p}.attention.dense"),
            attention_norm=f"{p}.attention.LayerNorm",
            intermediate=f"{p}.ffn",
            output=f"{p}.ffn_output",
            output_norm=f"{p}.full_layer_layer_norm",
        )
    if weights.has("pooler.weight"):
        common.dense(weights, backbone.pooler, "pooler")


def load(config, weights, task, num_classes):
    from kerasnlp_lite import models

    backbone = models.AlbertBackbone(**backbone_kwargs(config))
    load_backbone(backbone, weights)
    if task in ("masked_lm", "pretraining"):
        # "pretraining": MLM + sentence-order prediction (AlbertForPreTraining's sop_classifier).
        model = models.AlbertPretrainer(backbone, next_sentence=task == "pretraining")
        common.mlm_head(weights, model.mlm_head, "predictions.dense", "predictions.LayerNorm", "predictions.bias")
        weights.tied("predictions.decoder.weight", "embeddings.word_embeddings.weight")
        weights.tied("predictions.decoder.bias", "predictions.bias")
        if task == "pretraining":
            common.dense(weights, model.get_layer("sentence_head").dense, "sop_classifier.classifier")
        return model
    if task == "classifier":
        model = models.TextClassifier(
            backbone, num_classes=common.num_labels(config, num_classes),
            dropout=config.get("classifier_dropout_prob", 0.1),
        )
        if weights.has("classifier.weight"):
            common.dense(weights, model.get_layer("classifier_head").dense, "classifier")
        return model
    if task == "embedder":
        return models.TextEmbedder(backbone, normalize=True)
    return backbone
