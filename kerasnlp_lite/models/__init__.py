"""Functional models: backbones per family, tasks (backbone + head) and presets."""

from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.models.bert.bert_backbone import BertBackbone

AVAILABLE_MODELS = ["BertBackbone"]
