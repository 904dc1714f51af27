"""RoBERTa (Liu et al. 2019): backbone, pretraining task, presets."""

from kerasnlp_lite.models.roberta.roberta_backbone import RobertaBackbone
from kerasnlp_lite.models.roberta.roberta_pretrainer import RobertaPretrainer
