"""GPT-1 / GPT-2 (Radford et al. 2018, 2019): backbone, classifier task, presets."""

from kerasnlp_lite.models.gpt.gpt_backbone import GPTBackbone
from kerasnlp_lite.models.gpt.gpt_classifier import GPTClassifier
