"""Recurrent models: RNN encoders, sequence attention, RNN seq2seq, the ELMo-style biLM."""

from kerasnlp_lite.models.rnn.rnn_encoder import RNNEncoder
from kerasnlp_lite.models.rnn.sequence_attention import SequenceAttention
from kerasnlp_lite.models.rnn.rnn_seq2seq import RNNSeq2Seq
from kerasnlp_lite.models.rnn.bilm import BiLanguageModel, ScalarMix
