"""Heads: layers on top of a backbone's sequence or pooled output."""

from kerasnlp_lite.heads.classification_heads import ClassificationHead, NextSentenceHead, TokenClassificationHead
from kerasnlp_lite.heads.masked_lm_head import MaskedLMHead
from kerasnlp_lite.heads.causal_lm_head import CausalLMHead
from kerasnlp_lite.heads.extract_token_head import ExtractTokenHead
