"""Keras layers: attention, masks, position encodings, embeddings, feed-forward, blocks."""

from kerasnlp_lite.layers.attention import scaled_dot_product_attention
from kerasnlp_lite.layers.masks import causal_mask, merge_masks, padding_mask_to_attention_mask
from kerasnlp_lite.layers.multi_head_attention import MultiHeadAttention
from kerasnlp_lite.layers.relative_position_embedding import RelativePositionEmbedding
from kerasnlp_lite.layers.rotary_embedding import RotaryEmbedding
from kerasnlp_lite.layers.position_embedding import PositionEmbedding
from kerasnlp_lite.layers.sinusoidal_position_encoding import SinusoidalPositionEncoding
from kerasnlp_lite.layers.activations import gelu, gelu_tanh, get_activation
from kerasnlp_lite.layers.feed_forward import FeedForward
from kerasnlp_lite.layers.transformer_decoder_block import TransformerDecoderBlock
from kerasnlp_lite.layers.transformer_encoder_block import TransformerEncoderBlock
from kerasnlp_lite.layers.factorized_embedding import FactorizedEmbedding
from kerasnlp_lite.layers.text_embedding import TextEmbedding
from kerasnlp_lite.layers.token_embedding import TokenEmbedding
