"""Recurrent models: RNN encoders, sequence attention, RNN seq2seq (and word vectors, ELMo)."""

from kerasnlp_lite.models.rnn.rnn_encoder import RNNEncoder
from kerasnlp_lite.models.rnn.sequence_attention import SequenceAttention
from kerasnlp_lite.models.rnn.rnn_seq2seq import RNNSeq2Seq
from kerasnlp_lite.models.rnn.word2vec import NegativeSamplingLoss, Word2Vec, split_words, word_vocabulary
from kerasnlp_lite.models.rnn.bilm import BiLanguageModel, ScalarMix
