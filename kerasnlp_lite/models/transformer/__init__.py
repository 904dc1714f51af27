"""The original Transformer encoder-decoder (Vaswani et al. 2017): backbone, presets."""

from kerasnlp_lite.models.transformer.transformer_seq2seq import TransformerSeq2Seq
