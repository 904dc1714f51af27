"""BERT (Devlin et al. 2019): backbone, pretraining task, presets."""

from kerasnlp_lite.models.bert.bert_backbone import BertBackbone
from kerasnlp_lite.models.bert.bert_pretrainer import BertPretrainer
