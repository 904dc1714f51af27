"""Weight transfer from the reference implementations (KerasHub, Model Garden) for parity tests.

Test-only: kerasnlp_lite never imports keras_hub or tf-models-official.
"""


def copy_keras_hub_encoder_block(ours, theirs, cross=False):
    """KerasHub TransformerEncoder/TransformerDecoder -> our block (same weight shapes)."""
    pairs = [
        (ours.self_attention, theirs._self_attention_layer),
        (ours.self_attention_norm, theirs._self_attention_layer_norm),
        (ours.feed_forward.intermediate_dense, theirs._feedforward_intermediate_dense),
        (ours.feed_forward.output_dense, theirs._feedforward_output_dense),
        (ours.feed_forward_norm, theirs._feedforward_layer_norm),
    ]
    if cross:
        pairs += [
            (ours.cross_attention_layer, theirs._cross_attention_layer),
            (ours.cross_attention_norm, theirs._cross_attention_layer_norm),
        ]
    for mine, reference in pairs:
        mine.set_weights(reference.get_weights())


def copy_keras_hub_bert(ours, theirs):
    """keras_hub.models.BertBackbone -> kerasnlp_lite BertBackbone."""
    embedding = ours.embedding
    embedding.token_embedding.set_weights(theirs.token_embedding.get_weights())
    embedding.segment_embedding.set_weights(theirs.segment_embedding.get_weights())
    embedding.position_embedding.set_weights(theirs.position_embedding.get_weights())
    embedding.layer_norm.set_weights(theirs.embeddings_layer_norm.get_weights())
    for i, block in enumerate(ours.encoder_blocks):
        copy_keras_hub_encoder_block(block, theirs.get_layer(f"transformer_layer_{i}"))
    ours.pooler.set_weights(theirs.pooled_dense.get_weights())


def copy_model_garden_bert(ours, theirs):
    """official.nlp.modeling.networks.BertEncoderV2 (tf_keras) -> kerasnlp_lite BertBackbone."""
    values = {w.name.split("/", 1)[1].rsplit(":", 1)[0]: w.numpy() for w in theirs.weights}
    embedding = ours.embedding
    embedding.token_embedding.embeddings.assign(values["word_embeddings/embeddings"])
    embedding.position_embedding.embeddings.assign(values["position_embedding/embeddings"])
    embedding.segment_embedding.embeddings.assign(values["type_embeddings/embeddings"])
    embedding.layer_norm.set_weights([values["embeddings/layer_norm/gamma"], values["embeddings/layer_norm/beta"]])
    for i, block in enumerate(ours.encoder_blocks):
        p = f"transformer/layer_{i}/"
        attention = block.self_attention
        for ours_name, theirs_name in (("query", "query"), ("key", "key"), ("value", "value"), ("output", "attention_output")):
            getattr(attention, f"{ours_name}_kernel").assign(values[f"{p}self_attention/{theirs_name}/kernel"])
            getattr(attention, f"{ours_name}_bias").assign(values[f"{p}self_attention/{theirs_name}/bias"])
        block.self_attention_norm.set_weights(
            [values[f"{p}self_attention_layer_norm/gamma"], values[f"{p}self_attention_layer_norm/beta"]]
        )
        block.feed_forward.intermediate_dense.set_weights([values[f"{p}intermediate/kernel"], values[f"{p}intermediate/bias"]])
        block.feed_forward.output_dense.set_weights([values[f"{p}output/kernel"], values[f"{p}output/bias"]])
        block.feed_forward_norm.set_weights([values[f"{p}output_layer_norm/gamma"], values[f"{p}output_layer_norm/beta"]])
    ours.pooler.set_weights([values["pooler_transform/kernel"], values["pooler_transform/bias"]])


def copy_keras_hub_albert(ours, theirs):
    """keras_hub.models.AlbertBackbone -> kerasnlp_lite AlbertBackbone (same groups and inner repetitions)."""
    embedding = ours.embedding
    embedding.token_embedding.token_embedding.set_weights(theirs.token_embedding.get_weights())
    embedding.token_embedding.projection.set_weights(theirs.embeddings_projection.get_weights())
    embedding.segment_embedding.set_weights(theirs.segment_embedding.get_weights())
    embedding.position_embedding.set_weights(theirs.position_embedding.get_weights())
    embedding.layer_norm.set_weights(theirs.embeddings_layer_norm.get_weights())
    # Ours are flat and group-major; KerasHub's are nested [group][inner].
    theirs_blocks = [block for group in theirs.transformer_layers for block in group]
    assert len(theirs_blocks) == len(ours.encoder_blocks)
    for block, reference in zip(ours.encoder_blocks, theirs_blocks):
        copy_keras_hub_encoder_block(block, reference)
    ours.pooler.set_weights(theirs.pooled_dense.get_weights())


def copy_keras_hub_roberta(ours, theirs):
    """keras_hub.models.RobertaBackbone -> kerasnlp_lite RobertaBackbone.

    KerasHub's position table has `max_sequence_length` rows read from 0; ours
    has `pad_token_id + 1` more, read from `pad_token_id + 1` (fairseq's offset):
    their row t goes to our row pad_token_id + 1 + t. Our reserved rows keep
    their own values (only padded tokens could ever read them).
    """
    embedding = ours.embedding
    embedding.token_embedding.set_weights(theirs.embeddings.token_embedding.get_weights())
    (their_positions,) = theirs.embeddings.position_embedding.get_weights()
    (positions,) = embedding.position_embedding.get_weights()
    offset = ours.pad_token_id + 1
    positions[offset : offset + len(their_positions)] = their_positions
    embedding.position_embedding.set_weights([positions])
    embedding.layer_norm.set_weights(theirs.embeddings_layer_norm.get_weights())
    for i, block in enumerate(ours.encoder_blocks):
        copy_keras_hub_encoder_block(block, theirs.get_layer(f"transformer_layer_{i}"))


def copy_keras_hub_gpt2(ours, theirs):
    """keras_hub.models.GPT2Backbone -> kerasnlp_lite GPTBackbone (norm_first=True, final_norm=True)."""
    embedding = ours.embedding
    embedding.token_embedding.embeddings.assign(theirs.token_embedding.embeddings)
    embedding.position_embedding.set_weights(theirs.position_embedding.get_weights())
    for block, reference in zip(ours.decoder_blocks, theirs.transformer_layers, strict=True):
        copy_keras_hub_encoder_block(block, reference)
    ours.final_layer_norm.set_weights(theirs.layer_norm.get_weights())


def copy_keras_hub_bart(ours, theirs):
    """keras_hub.models.BartBackbone -> kerasnlp_lite BartBackbone (same layer counts).

    KerasHub's position tables have `max_sequence_length` rows read from 0;
    ours have 2 more, read from row 2 (fairseq's / HF's offset): their row t
    goes to our row 2 + t. Our rows 0 and 1 keep their own values (never read).
    """
    ours.token_embedding.embeddings.assign(theirs.token_embedding.embeddings)
    for side in ("encoder", "decoder"):
        (their_positions,) = getattr(theirs, f"{side}_position_embedding").get_weights()
        table = getattr(ours, f"{side}_position_embedding")
        (positions,) = table.get_weights()
        positions[2 : 2 + len(their_positions)] = their_positions
        table.set_weights([positions])
        getattr(ours, f"{side}_embeddings_layer_norm").set_weights(
            getattr(theirs, f"{side}_embeddings_layer_norm").get_weights()
        )
    for block, reference in zip(ours.encoder_blocks, theirs.encoder_transformer_layers, strict=True):
        copy_keras_hub_encoder_block(block, reference)
    for block, reference in zip(ours.decoder_blocks, theirs.decoder_transformer_layers, strict=True):
        copy_keras_hub_encoder_block(block, reference, cross=True)


def _copy_keras_hub_t5_attention(ours, theirs):
    """T5MultiHeadAttention (Dense kernels [D, N*H], [N*H, D], no biases) -> our MultiHeadAttention."""
    for mine, reference in (
        (ours.query_kernel, theirs.query_projector),
        (ours.key_kernel, theirs.key_projector),
        (ours.value_kernel, theirs.value_projector),
    ):
        mine.assign(reference.kernel.numpy().reshape(tuple(mine.shape)))
    ours.output_kernel.assign(theirs.output_projector.kernel.numpy().reshape(tuple(ours.output_kernel.shape)))


def copy_keras_hub_t5(ours, theirs):
    """keras_hub.models.T5Backbone (use_gated_activation=False) -> kerasnlp_lite T5Backbone.

    KerasHub keeps the relative position table in the first layer of each
    stack (`self_attention.relative_attention_bias`, [32, N]); ours has one
    `RelativePositionBias` per stack, with the same layout.
    """
    ours.token_embedding.embeddings.assign(theirs.token_embedding.embeddings)
    stacks = (
        ("encoder", ours.encoder_blocks, theirs.encoder_transformer_layers, theirs.encoder_layer_norm),
        ("decoder", ours.decoder_blocks, theirs.decoder_transformer_layers, theirs.decoder_layer_norm),
    )
    for side, blocks, references, final_norm in stacks:
        getattr(ours, f"{side}_position_bias").embeddings.assign(references[0].self_attention.relative_attention_bias)
        for block, reference in zip(blocks, references, strict=True):
            if reference.use_gated_activation:
                raise ValueError("Only KerasHub T5 with use_gated_activation=False matches T5Backbone (T5 v1.0).")
            _copy_keras_hub_t5_attention(block.self_attention, reference.self_attention)
            block.self_attention_norm.scale.assign(reference.self_attention_layer_norm.weight)
            if side == "decoder":
                _copy_keras_hub_t5_attention(block.cross_attention_layer, reference.cross_attention)
                block.cross_attention_norm.scale.assign(reference.cross_attention_layer_norm.weight)
            block.feed_forward.intermediate_dense.kernel.assign(reference.input_projector.kernel)
            block.feed_forward.output_dense.kernel.assign(reference.output_projector.kernel)
            block.feed_forward_norm.scale.assign(reference.layer_norm.weight)
        getattr(ours, f"{side}_final_norm").scale.assign(final_norm.weight)
