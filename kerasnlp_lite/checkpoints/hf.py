"""Load Hugging Face format checkpoint directories: `config.json` + `model.safetensors`.

Weights come only from safetensors (never from pickled `pytorch_model.bin`).
Tensors are mapped by name, every shape is checked, and a missing or
unexpected tensor is an error naming it.
"""

import json
import os

import numpy as np

TASKS = (None, "masked_lm", "pretraining", "classifier", "embedder")


class CheckpointError(ValueError):
    """The checkpoint does not fit the architecture (missing tensor, shape mismatch, unknown model)."""


def _read_config(path):
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"No config.json in {path!r}: expected a Hugging Face format directory.")
    with open(config_path) as f:
        return json.load(f)


def _read_weights(path):
    from safetensors.numpy import load_file

    weights_path = os.path.join(path, "model.safetensors")
    if not os.path.isfile(weights_path):
        others = [f for f in os.listdir(path) if f.endswith((".bin", ".pt", ".pth", ".ckpt"))]
        hint = f" (found {others}: pickled weights are never loaded; convert them to safetensors)" if others else ""
        raise FileNotFoundError(f"No model.safetensors in {path!r}{hint}.")
    return load_file(weights_path)


class _Weights:
    """Name -> array with prefix handling, shape checks and a record of what was used."""

    def __init__(self, tensors, prefixes):
        self.tensors = tensors
        self.prefixes = prefixes
        self.used = set()

    def _key(self, name):
        for prefix in self.prefixes:
            if prefix + name in self.tensors:
                return prefix + name
        return None

    def has(self, name):
        return self._key(name) is not None

    def get(self, name):
        key = self._key(name)
        if key is None:
            raise CheckpointError(f"The checkpoint has no tensor {name!r} (tried prefixes {self.prefixes}).")
        self.used.add(key)
        return self.tensors[key]

    def assign(self, variable, name, transform=None):
        value = self.get(name)
        if transform is not None:
            value = transform(value)
        if tuple(variable.shape) != tuple(value.shape):
            raise CheckpointError(
                f"Shape mismatch for {name!r}: checkpoint {tuple(value.shape)} (after mapping) vs "
                f"model variable {variable.path} {tuple(variable.shape)}."
            )
        variable.assign(value.astype(np.float32))

    def unused(self, ignore=()):
        return sorted(k for k in self.tensors if k not in self.used and not any(s in k for s in ignore))


def _bert_backbone_kwargs(config):
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"Unsupported position_embedding_type {config['position_embedding_type']!r}.")
    activation = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}.get(
        config.get("hidden_act", "gelu")
    )
    if activation is None:
        raise CheckpointError(f"Unsupported hidden_act {config.get('hidden_act')!r}.")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        max_sequence_length=config["max_position_embeddings"],
        num_segments=config.get("type_vocab_size", 2),
        dropout=config.get("hidden_dropout_prob", 0.1),
        activation=activation,
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
    )


def _dense(weights, layer, name):
    """torch Linear (out, in) -> Keras Dense kernel (in, out)."""
    weights.assign(layer.kernel, f"{name}.weight", np.transpose)
    weights.assign(layer.bias, f"{name}.bias")


def _layer_norm(weights, layer, name):
    weights.assign(layer.gamma, f"{name}.weight")
    weights.assign(layer.beta, f"{name}.bias")


def _attention(weights, mha, prefix, num_heads):
    """BERT self-attention (Linear q/k/v and output) -> MultiHeadAttention [D, N, H] kernels."""
    for ours, theirs in (("query", "query"), ("key", "key"), ("value", "value")):
        kernel, bias = getattr(mha, f"{ours}_kernel"), getattr(mha, f"{ours}_bias")
        d, n, h = kernel.shape
        # (N*H, D) -> (D, N*H) -> (D, N, H)
        weights.assign(kernel, f"{prefix}.self.{theirs}.weight", lambda w: w.T.reshape(d, n, h))
        weights.assign(bias, f"{prefix}.self.{theirs}.bias", lambda b: b.reshape(n, h))
    n, h, d = mha.output_kernel.shape
    # (D, N*H) -> (N*H, D) -> (N, H, D)
    weights.assign(mha.output_kernel, f"{prefix}.output.dense.weight", lambda w: w.T.reshape(n, h, d))
    weights.assign(mha.output_bias, f"{prefix}.output.dense.bias")


def _load_bert_backbone(backbone, weights):
    embedding = backbone.embedding
    weights.assign(embedding.token_embedding.embeddings, "embeddings.word_embeddings.weight")
    weights.assign(embedding.position_embedding.embeddings, "embeddings.position_embeddings.weight")
    weights.assign(embedding.segment_embedding.embeddings, "embeddings.token_type_embeddings.weight")
    _layer_norm(weights, embedding.layer_norm, "embeddings.LayerNorm")
    for i, block in enumerate(backbone.encoder_blocks):
        prefix = f"encoder.layer.{i}"
        _attention(weights, block.self_attention, f"{prefix}.attention", backbone.num_heads)
        _layer_norm(weights, block.self_attention_norm, f"{prefix}.attention.output.LayerNorm")
        _dense(weights, block.feed_forward.intermediate_dense, f"{prefix}.intermediate.dense")
        _dense(weights, block.feed_forward.output_dense, f"{prefix}.output.dense")
        _layer_norm(weights, block.feed_forward_norm, f"{prefix}.output.LayerNorm")
    if weights.has("pooler.dense.weight"):
        _dense(weights, backbone.pooler, "pooler.dense")


def _load_mlm_head(head, weights):
    _dense(weights, head.transform, "cls.predictions.transform.dense")
    _layer_norm(weights, head.layer_norm, "cls.predictions.transform.LayerNorm")
    weights.assign(head.output_bias, "cls.predictions.bias")


def from_hf(path, task=None, num_classes=None):
    """Builds a backbone or task model from a local Hugging Face format directory.

    Args:
        path: folder with `config.json` and `model.safetensors`.
        task: None (the backbone), "masked_lm", "pretraining" (MLM + NSP),
            "classifier" or "embedder" (mean pooling + L2 norm, as
            sentence-transformers).
        num_classes: for "classifier" when the config has no labels.

    Returns:
        The Keras model, its weights loaded and checked.
    """
    from kerasnlp_lite import models

    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}, got {task!r}.")
    config = _read_config(path)
    model_type = config.get("model_type")
    if model_type != "bert":
        raise CheckpointError(
            f"Unknown or unsupported architecture model_type={model_type!r} "
            f"(architectures={config.get('architectures')}); supported: ['bert']."
        )
    tensors = _read_weights(path)
    weights = _Weights(tensors, prefixes=("", "bert.", "model."))
    backbone = models.BertBackbone(**_bert_backbone_kwargs(config))
    _load_bert_backbone(backbone, weights)

    model = backbone
    if task in ("masked_lm", "pretraining"):
        model = models.BertPretrainer(backbone, next_sentence=task == "pretraining")
        _load_mlm_head(model.mlm_head, weights)
        if task == "pretraining":
            _dense(weights, model.get_layer("sentence_head").dense, "cls.seq_relationship")
    elif task == "classifier":
        labels = num_classes or len(config.get("id2label", {})) or None
        if not labels:
            raise ValueError("`num_classes` is needed: the config names no labels.")
        model = models.TextClassifier(backbone, num_classes=labels, dropout=config.get("hidden_dropout_prob", 0.1))
        if weights.has("classifier.weight"):
            _dense(weights, model.get_layer("classifier_head").dense, "classifier")
    elif task == "embedder":
        model = models.TextEmbedder(backbone, normalize=True)

    # Tensors the task does not use (e.g. an MLM head when loading a
    # backbone) are fine; tensors that nothing could use are reported.
    unused = weights.unused(ignore=("position_ids", "cls.", "classifier.", "pooler."))
    if unused:
        raise CheckpointError(f"Checkpoint tensors not mapped to the model: {unused[:10]}{'...' if len(unused) > 10 else ''}")
    return model


def from_hf_tokenizer(path):
    """The tokenizer of a Hugging Face format directory: vocab.txt (WordPiece),
    vocab.json + merges.txt (byte-level BPE) or spiece.model/sentencepiece.bpe.model (SentencePiece)."""
    from kerasnlp_lite import tokenizers

    def exists(name):
        return os.path.isfile(os.path.join(path, name))

    tokenizer_config = {}
    if exists("tokenizer_config.json"):
        with open(os.path.join(path, "tokenizer_config.json")) as f:
            tokenizer_config = json.load(f)
    if exists("vocab.txt"):
        return tokenizers.WordPieceTokenizer(
            os.path.join(path, "vocab.txt"), lowercase=tokenizer_config.get("do_lower_case", True)
        )
    if exists("vocab.json") and exists("merges.txt"):
        return tokenizers.ByteBPETokenizer(os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt"))
    for name in ("spiece.model", "sentencepiece.bpe.model", "tokenizer.model"):
        if exists(name):
            return tokenizers.SentencePieceTokenizer(os.path.join(path, name))
    raise FileNotFoundError(
        f"No tokenizer files in {path!r}: expected vocab.txt, vocab.json + merges.txt, or spiece.model."
    )
