"""Pieces shared by the per-family Hugging Face loaders (BERT, ALBERT, RoBERTa).

Reading the directory (config.json, model.safetensors only), the name -> tensor
map with shape checks and a record of what was used, and the torch -> Keras
layout conversions of Linear, LayerNorm and self-attention.
"""

import json
import os

import numpy as np


class CheckpointError(ValueError):
    """The checkpoint does not fit the architecture (missing tensor, shape mismatch, unknown model)."""


# HF `hidden_act` -> our activation names.
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}


def read_config(path):
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"No config.json in {path!r}: expected a Hugging Face format directory.")
    return read_json_file(config_path)


def read_json_file(file):
    """A JSON file's content; a CheckpointError naming the file if it is not valid JSON (or UTF-8)."""
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{file!r} is not a valid JSON file ({error}); the download may be incomplete.") from None


def read_weights(path):
    from safetensors.numpy import load_file

    weights_path = os.path.join(path, "model.safetensors")
    if not os.path.isfile(weights_path):
        others = [f for f in os.listdir(path) if f.endswith((".bin", ".pt", ".pth", ".ckpt"))]
        hint = f" (found {others}: pickled weights are never loaded; convert them to safetensors)" if others else ""
        raise FileNotFoundError(f"No model.safetensors in {path!r}{hint}.")
    from safetensors import SafetensorError

    try:
        return load_file(weights_path)
    except SafetensorError as error:
        # A truncated or corrupted download: name the file rather than the header parser's message alone.
        raise CheckpointError(
            f"{weights_path!r} is not a readable safetensors file ({error}); the download may be incomplete."
        ) from None


class Weights:
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

    def tied(self, name, reference_name):
        """A tensor our model ties to another (a decoder tied to the token table): if the
        checkpoint stores it, it must equal the other one."""
        if not self.has(name):
            return
        value, reference = self.get(name), self.get(reference_name)
        if value.shape != reference.shape or not np.array_equal(value, reference):
            raise CheckpointError(
                f"{name!r} differs from {reference_name!r}: untied output layers are not supported "
                "(the model ties its decoder to the token embedding)."
            )

    def unused(self, ignore=()):
        return sorted(k for k in self.tensors if k not in self.used and not any(s in k for s in ignore))

    def check_all_used(self, ignore=()):
        # Tensors the task does not use (e.g. an MLM head when loading a
        # backbone) are fine; tensors that nothing could use are reported.
        unused = self.unused(ignore=("position_ids",) + tuple(ignore))
        if unused:
            more = "..." if len(unused) > 10 else ""
            raise CheckpointError(f"Checkpoint tensors not mapped to the model: {unused[:10]}{more}")


def activation(config, default="gelu"):
    name = config.get("hidden_act", default)
    if name not in ACTIVATIONS:
        raise CheckpointError(f"Unsupported hidden_act {name!r}; supported: {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


def check_absolute_positions(config):
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"Unsupported position_embedding_type {config['position_embedding_type']!r}.")


def num_labels(config, num_classes):
    labels = num_classes or len(config.get("id2label", {})) or None
    if not labels:
        raise ValueError("`num_classes` is needed: the config names no labels.")
    return labels


def dense(weights, layer, name):
    """torch Linear (out, in) -> Keras Dense kernel (in, out)."""
    weights.assign(layer.kernel, f"{name}.weight", np.transpose)
    weights.assign(layer.bias, f"{name}.bias")


def layer_norm(weights, layer, name):
    weights.assign(layer.gamma, f"{name}.weight")
    weights.assign(layer.beta, f"{name}.bias")


def attention(weights, mha, query, key, value, output):
    """Self-attention as four torch Linears (names of q, k, v and output) -> MultiHeadAttention
    `[D, N, H]` / `[N, H, D]` kernels."""
    for ours, theirs in (("query", query), ("key", key), ("value", value)):
        kernel, bias = getattr(mha, f"{ours}_kernel"), getattr(mha, f"{ours}_bias")
        d, n, h = kernel.shape
        # (N*H, D) -> (D, N*H) -> (D, N, H)
        weights.assign(kernel, f"{theirs}.weight", lambda w: w.T.reshape(d, n, h))
        weights.assign(bias, f"{theirs}.bias", lambda b: b.reshape(n, h))
    n, h, d = mha.output_kernel.shape
    # (D, N*H) -> (N*H, D) -> (N, H, D)
    weights.assign(mha.output_kernel, f"{output}.weight", lambda w: w.T.reshape(n, h, d))
    weights.assign(mha.output_bias, f"{output}.bias")


def encoder_block(weights, block, attention_names, attention_norm, intermediate, output, output_norm):
    """A post-LN block (attention + LayerNorm, feed-forward + LayerNorm) from HF names."""
    attention(weights, block.self_attention, *attention_names)
    layer_norm(weights, block.self_attention_norm, attention_norm)
    dense(weights, block.feed_forward.intermediate_dense, intermediate)
    dense(weights, block.feed_forward.output_dense, output)
    layer_norm(weights, block.feed_forward_norm, output_norm)


def mlm_head(weights, head, transform, norm, bias):
    """dense + activation + LayerNorm + tied decoder + bias."""
    dense(weights, head.transform, transform)
    layer_norm(weights, head.layer_norm, norm)
    weights.assign(head.output_bias, bias)


def bert_encoder_layers(weights, backbone):
    """HF BERT/RoBERTa `encoder.layer.{i}` blocks, then the pooler if the checkpoint has one."""
    for i, block in enumerate(backbone.encoder_blocks):
        p = f"encoder.layer.{i}"
        encoder_block(
            weights, block,
            attention_names=(f"{p}.attention.self.query", f"{p}.attention.self.key", f"{p}.attention.self.value",
                             f"{p}.attention.output.dense"),
            attention_norm=f"{p}.attention.output.LayerNorm",
            intermediate=f"{p}.intermediate.dense",
            output=f"{p}.output.dense",
            output_norm=f"{p}.output.LayerNorm",
        )
    if weights.has("pooler.dense.weight"):
        dense(weights, backbone.pooler, "pooler.dense")
