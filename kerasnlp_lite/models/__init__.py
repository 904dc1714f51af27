"""Functional models: backbones per family, tasks (backbone + head) and presets."""

from kerasnlp_lite.models.backbone import Backbone, has_lora, merge_lora
from kerasnlp_lite.models.bert.bert_backbone import BertBackbone

AVAILABLE_MODELS = ["BertBackbone"]
from kerasnlp_lite.models.encoder_tasks import (
    AlbertPretrainer,
    BertPretrainer,
    RobertaPretrainer,
    TextClassifier,
    TextEmbedder,
    TokenClassifier,
)
from kerasnlp_lite.models.task import Task, freeze

AVAILABLE_MODELS += ["BertPretrainer", "AlbertPretrainer", "RobertaPretrainer", "TextClassifier", "TokenClassifier", "TextEmbedder"]
from kerasnlp_lite.models.albert.albert_backbone import AlbertBackbone
from kerasnlp_lite.models.roberta.roberta_backbone import RobertaBackbone

AVAILABLE_MODELS += ["AlbertBackbone", "RobertaBackbone"]
from kerasnlp_lite.models.preprocessor import Preprocessor, TextPreprocessor
from kerasnlp_lite.models.causal_lm_preprocessor import CausalLMPreprocessor
from kerasnlp_lite.models.masked_lm_preprocessor import MaskedLMPreprocessor
from kerasnlp_lite.models.gpt.gpt_backbone import GPTBackbone
from kerasnlp_lite.models.causal_lm import CausalLM
from kerasnlp_lite.models.perplexity import Perplexity
from kerasnlp_lite.models.gpt.gpt_classifier import GPTClassifier

AVAILABLE_MODELS += ["GPTBackbone", "CausalLM", "GPTClassifier"]
from kerasnlp_lite.models.rnn import BiLanguageModel, RNNEncoder, RNNSeq2Seq, ScalarMix, SequenceAttention, Word2Vec

AVAILABLE_MODELS += ["Word2Vec", "BiLanguageModel", "RNNEncoder", "RNNSeq2Seq"]
from kerasnlp_lite.models.seq2seq import (
    BartBackbone,
    Seq2SeqBackbone,
    Seq2SeqLM,
    Seq2SeqPreprocessor,
    T5Backbone,
    TransformerSeq2Seq,
)

AVAILABLE_MODELS += ["TransformerSeq2Seq", "BartBackbone", "T5Backbone", "Seq2SeqLM"]
from kerasnlp_lite.models.seq2seq import BartDenoiser, T5Denoiser

AVAILABLE_MODELS += ["BartDenoiser", "T5Denoiser"]
