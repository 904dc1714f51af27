"""ALBERT (Lan et al. 2019): backbone, pretraining task, presets."""

from kerasnlp_lite.models.albert.albert_backbone import AlbertBackbone
from kerasnlp_lite.models.albert.albert_pretrainer import AlbertPretrainer
