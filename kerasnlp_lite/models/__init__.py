"""Functional models: backbones per family, tasks (backbone + head), preprocessors and presets.

Layout: a family folder (`bert/`, `albert/`, `roberta/`, `gpt/`, `transformer/`,
`bart/`, `t5/`, `rnn/`, `word2vec/`) holds its backbone, its own tasks and its
presets; tasks that work with any backbone of a kind (`TextClassifier`,
`CausalLM`, `Seq2SeqLM`, ...) and the preprocessors live here at the top, the
shared encoder-decoder machinery in `seq2seq/`.
"""

# The shared bases and generic tasks.
from kerasnlp_lite.models.backbone import Backbone, has_lora, merge_lora
from kerasnlp_lite.models.task import Task, freeze
from kerasnlp_lite.models.preprocessor import Preprocessor, TextPreprocessor
from kerasnlp_lite.models.causal_lm_preprocessor import CausalLMPreprocessor
from kerasnlp_lite.models.masked_lm_preprocessor import MaskedLMPreprocessor
from kerasnlp_lite.models.encoder_tasks import TextClassifier, TextEmbedder, TokenClassifier
from kerasnlp_lite.models.causal_lm import CausalLM
from kerasnlp_lite.models.perplexity import Perplexity
from kerasnlp_lite.models.seq2seq import Seq2SeqBackbone, Seq2SeqLM, Seq2SeqPreprocessor

# The families.
from kerasnlp_lite.models.bert import BertBackbone, BertPretrainer
from kerasnlp_lite.models.albert import AlbertBackbone, AlbertPretrainer
from kerasnlp_lite.models.roberta import RobertaBackbone, RobertaPretrainer
from kerasnlp_lite.models.gpt import GPTBackbone, GPTClassifier
from kerasnlp_lite.models.transformer import TransformerSeq2Seq
from kerasnlp_lite.models.bart import BartBackbone, BartDenoiser
from kerasnlp_lite.models.t5 import T5Backbone, T5Denoiser
from kerasnlp_lite.models.rnn import BiLanguageModel, RNNEncoder, RNNSeq2Seq, ScalarMix, SequenceAttention
from kerasnlp_lite.models.word2vec import Word2Vec

AVAILABLE_MODELS = [
    "BertBackbone", "BertPretrainer", "AlbertBackbone", "AlbertPretrainer", "RobertaBackbone", "RobertaPretrainer",
    "TextClassifier", "TokenClassifier", "TextEmbedder",
    "GPTBackbone", "CausalLM", "GPTClassifier",
    "TransformerSeq2Seq", "BartBackbone", "T5Backbone", "Seq2SeqLM", "BartDenoiser", "T5Denoiser",
    "Word2Vec", "BiLanguageModel", "RNNEncoder", "RNNSeq2Seq",
]
