"""Encoder-decoder backbones (the original Transformer, BART, T5) and their tasks."""

from kerasnlp_lite.models.seq2seq.seq2seq_backbone import Seq2SeqBackbone
from kerasnlp_lite.models.seq2seq.transformer_seq2seq import TransformerSeq2Seq
from kerasnlp_lite.models.seq2seq.bart_backbone import BartBackbone
from kerasnlp_lite.models.seq2seq.t5_backbone import T5Backbone
from kerasnlp_lite.models.seq2seq.seq2seq_lm import Seq2SeqLM
from kerasnlp_lite.models.seq2seq.seq2seq_preprocessor import Seq2SeqPreprocessor
from kerasnlp_lite.models.seq2seq.denoisers import BartDenoiser, T5Denoiser
