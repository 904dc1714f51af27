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
