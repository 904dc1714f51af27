"""BERT (HF `model_type` "bert"): BertModel / BertForMaskedLM / BertForPreTraining /
BertForSequenceClassification / sentence-transformers directories -> BertBackbone and tasks."""

from kerasnlp_lite.checkpoints import hf_common as common

PREFIXES = ("", "bert.", "model.")
# Heads the requested task may not use.
IGNORE = ("cls.", "classifier.", "pooler.")


def backbone_kwargs(config):
    common.check_absolute_positions(config)
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        max_sequence_length=config["max_position_embeddings"],
        num_segments=config.get("type_vocab_size", 2),
        dropout=config.get("hidden_dropout_prob", 0.1),
        activation=common.activation(config),
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
    )


def load_backbone(backbone, weights):
    embedding = backbone.embedding
    weights.assign(embedding.token_embedding.embeddings, "embeddings.word_embeddings.weight")
    weights.assign(embedding.position_embedding.embeddings, "embeddings.position_embeddings.weight")
    weights.assign(embedding.segment_embedding.embeddings, "embeddings.token_type_embeddings.weight")
    common.layer_norm(weights, embedding.layer_norm, "embeddings.LayerNorm")
    common.bert_encoder_layers(weights, backbone)


def load(config, weights, task, num_classes):
    from kerasnlp_lite import models

    backbone = models.BertBackbone(**backbone_kwargs(config))
    load_backbone(backbone, weights)
    if task in ("masked_lm", "pretraining"):
        model = models.BertPretrainer(backbone, next_sentence=task == "pretraining")
        common.mlm_head(
            weights, model.mlm_head, "cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm",
            "cls.predictions.bias",
        )
        if task == "pretraining":
            common.dense(weights, model.get_layer("sentence_head").dense, "cls.seq_relationship")
        return model
    if task == "classifier":
        model = models.TextClassifier(
            backbone, num_classes=common.num_labels(config, num_classes), dropout=config.get("hidden_dropout_prob", 0.1)
        )
        if weights.has("classifier.weight"):
            common.dense(weights, model.get_layer("classifier_head").dense, "classifier")
        return model
    if task == "embedder":
        return models.TextEmbedder(backbone, normalize=True)
    return backbone
