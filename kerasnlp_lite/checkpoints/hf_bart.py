"""BART (HF `model_type` "bart"): BartModel / BartForConditionalGeneration directories ->
BartBackbone and Seq2SeqLM.

Layouts: every projection is a torch `nn.Linear` (weight `[out, in]`), so
kernels are transposed. `self_attn` / `encoder_attn` `{q,k,v}_proj`
`[N*H, D]` become our MultiHeadAttention `[D, N, H]` kernels (rows head-major:
row n * H + h) and `[N, H]` biases, `out_proj` `[D, N*H]` the `[N, H, D]`
output kernel. Name map (prefix "model." in BartForConditionalGeneration):

    shared                                   backbone.token_embedding (one table)
    {encoder,decoder}.embed_positions        {encoder,decoder}_position_embedding
                                             (max_position_embeddings + 2 rows, read
                                             from row 2 on: fairseq's offset, kept)
    {encoder,decoder}.layernorm_embedding    {encoder,decoder}_embeddings_layer_norm
    {encoder,decoder}.layers.i.self_attn     block.self_attention
      .self_attn_layer_norm                  block.self_attention_norm (post-LN)
    decoder.layers.i.encoder_attn            block.cross_attention_layer
      .encoder_attn_layer_norm               block.cross_attention_norm
      .fc1, .fc2                             block.feed_forward.intermediate_dense, output_dense
      .final_layer_norm                      block.feed_forward_norm

Tied tables: `encoder.embed_tokens` / `decoder.embed_tokens` (written by older
transformers versions) and `lm_head.weight` must equal `shared` when
stored; `final_logits_bias` (a buffer of BartForConditionalGeneration, zeros in
the released checkpoints) must be all zeros for "seq2seq_lm", since the tied
output layer has no bias. Tensors may be stored in any float dtype numpy
reads (float16 too); they are loaded as float32.

Not supported (a CheckpointError names the field): different encoder and
decoder head counts or feed-forward widths, `normalize_before` /
`add_final_layer_norm` (pre-LN, mBART's layout), `normalize_embedding=False`,
`static_position_embeddings`, `add_bias_logits`, and activations outside
`hf_common.ACTIVATIONS`. `scale_embedding` (token embeddings times
sqrt(d_model)) is supported. Generation settings of the config
(`forced_bos_token_id`, `forced_eos_token_id`, `num_beams`,
`no_repeat_ngram_size`, length penalties) are not taken over: `Seq2SeqLM`
gets the start, end and pad ids only (a forced BOS can be given as the
decoder prompt `[decoder_start_token_id, bos_token_id]`).
"""

import numpy as np

from kerasnlp_lite.checkpoints import hf_common as common

PREFIXES = ("model.", "")
IGNORE = ()
TASKS = (None, "seq2seq_lm")

# Config fields whose non-default values change the computation in ways the backbone does not have
# (fields of older BartConfig versions, which current transformers ignores).
UNSUPPORTED = {
    "normalize_before": (False, "pre-LN blocks (mBART)"),
    "add_final_layer_norm": (False, "a LayerNorm after the last block of each stack (mBART)"),
    "normalize_embedding": (True, "no LayerNorm on the embeddings"),
    "static_position_embeddings": (False, "sinusoidal instead of learned positions"),
    "add_bias_logits": (False, "a learned bias on the output logits"),
}


def check_unsupported(config, unsupported, family):
    for field, (default, what) in unsupported.items():
        value = config.get(field, default)
        if value != default:
            raise common.CheckpointError(
                f"Unsupported {family} config {field}={value!r} ({what}); only {default!r}."
            )


def backbone_kwargs(config):
    check_unsupported(config, UNSUPPORTED, "BART")
    for encoder_field, decoder_field in (
        ("encoder_attention_heads", "decoder_attention_heads"),
        ("encoder_ffn_dim", "decoder_ffn_dim"),
    ):
        if config[decoder_field] != config[encoder_field]:
            raise common.CheckpointError(
                f"Unsupported BART config {decoder_field}={config[decoder_field]!r} != "
                f"{encoder_field}={config[encoder_field]!r}: the backbone has one value for both stacks."
            )
    activation = config.get("activation_function", "gelu")
    if activation not in common.ACTIVATIONS:
        raise common.CheckpointError(
            f"Unsupported BART config activation_function={activation!r}; supported: {sorted(common.ACTIVATIONS)}."
        )
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["encoder_layers"],
        num_decoder_layers=config["decoder_layers"],
        num_heads=config["encoder_attention_heads"],
        hidden_dim=config["d_model"],
        intermediate_dim=config["encoder_ffn_dim"],
        max_sequence_length=config["max_position_embeddings"],
        dropout=config.get("dropout", 0.1),
        activation=common.ACTIVATIONS[activation],
        layer_norm_epsilon=1e-5,  # nn.LayerNorm's default: BART's config has no field for it
        scale_embeddings=bool(config.get("scale_embedding", False)),
    )


def checked(name, value, shape):
    if tuple(value.shape) != tuple(shape):
        raise common.CheckpointError(
            f"Shape mismatch for {name!r}: checkpoint {tuple(value.shape)}, expected {tuple(shape)}."
        )
    return value


def attention(weights, mha, prefix, names=("q_proj", "k_proj", "v_proj", "out_proj"), use_bias=True):
    """Four torch Linears `{prefix}.{q,k,v,out}` -> MultiHeadAttention `[D, N, H]` / `[N, H, D]` kernels.

    Shapes are checked before the reshape, so a wrong tensor is an error naming it.
    """
    for ours, theirs in zip(("query", "key", "value"), names[:3]):
        kernel = getattr(mha, f"{ours}_kernel")
        d, n, h = kernel.shape
        name = f"{prefix}.{theirs}.weight"
        # (N*H, D) -> (D, N*H) -> (D, N, H)
        weights.assign(kernel, name, lambda w: checked(name, w, (n * h, d)).T.reshape(d, n, h))
        if use_bias:
            bias_name = f"{prefix}.{theirs}.bias"
            weights.assign(getattr(mha, f"{ours}_bias"), bias_name,
                           lambda b: checked(bias_name, b, (n * h,)).reshape(n, h))
    n, v, d = mha.output_kernel.shape
    name = f"{prefix}.{names[3]}.weight"
    # (D, N*V) -> (N*V, D) -> (N, V, D)
    weights.assign(mha.output_kernel, name, lambda w: checked(name, w, (d, n * v)).T.reshape(n, v, d))
    if use_bias:
        weights.assign(mha.output_bias, f"{prefix}.{names[3]}.bias")


def load_backbone(backbone, weights):
    weights.assign(backbone.token_embedding.embeddings, "shared.weight")
    for side in ("encoder", "decoder"):
        weights.tied(f"{side}.embed_tokens.weight", "shared.weight")
        weights.assign(getattr(backbone, f"{side}_position_embedding").embeddings, f"{side}.embed_positions.weight")
        common.layer_norm(weights, getattr(backbone, f"{side}_embeddings_layer_norm"), f"{side}.layernorm_embedding")
    for side, blocks in (("encoder", backbone.encoder_blocks), ("decoder", backbone.decoder_blocks)):
        for i, block in enumerate(blocks):
            p = f"{side}.layers.{i}"
            attention(weights, block.self_attention, f"{p}.self_attn")
            common.layer_norm(weights, block.self_attention_norm, f"{p}.self_attn_layer_norm")
            if side == "decoder":
                attention(weights, block.cross_attention_layer, f"{p}.encoder_attn")
                common.layer_norm(weights, block.cross_attention_norm, f"{p}.encoder_attn_layer_norm")
            common.dense(weights, block.feed_forward.intermediate_dense, f"{p}.fc1")
            common.dense(weights, block.feed_forward.output_dense, f"{p}.fc2")
            common.layer_norm(weights, block.feed_forward_norm, f"{p}.final_layer_norm")


def token_id(config, field, default):
    """An id field of the config (a one-element list is accepted)."""
    value = config.get(field)
    if value is None:
        return default
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise common.CheckpointError(f"Unsupported config {field}={value!r}: Seq2SeqLM takes one id.")
        value = value[0]
    return value


def seq2seq_lm(backbone, config):
    from kerasnlp_lite import models

    return models.Seq2SeqLM(
        backbone,
        decoder_start_token_id=token_id(config, "decoder_start_token_id", backbone.DECODER_START_TOKEN_ID),
        end_token_id=token_id(config, "eos_token_id", backbone.END_TOKEN_ID),
        pad_token_id=token_id(config, "pad_token_id", backbone.PAD_TOKEN_ID),
    )


def load(config, weights, task, num_classes):
    from kerasnlp_lite import models

    if task not in TASKS:
        raise ValueError(f"BART checkpoints load as tasks {TASKS}, got task={task!r}.")
    backbone = models.BartBackbone(**backbone_kwargs(config))
    load_backbone(backbone, weights)
    vocabulary_size = backbone.vocabulary_size
    if task != "seq2seq_lm":
        # The head of a BartForConditionalGeneration: not part of the backbone.
        for name in ("lm_head.weight", "final_logits_bias"):
            if weights.has(name):
                weights.get(name)
        return backbone
    if weights.has("final_logits_bias"):
        bias = checked("final_logits_bias", weights.get("final_logits_bias"), (1, vocabulary_size))
        if np.any(bias != 0):
            raise common.CheckpointError(
                "'final_logits_bias' is not all zeros: the tied output layer of Seq2SeqLM has no bias."
            )
    if not config.get("tie_word_embeddings", True):
        weights.get("lm_head.weight")  # an untied model must store its head; tied() checks it equals shared
    weights.tied("lm_head.weight", "shared.weight")
    return seq2seq_lm(backbone, config)
