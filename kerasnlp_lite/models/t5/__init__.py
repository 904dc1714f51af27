"""T5 (Raffel et al. 2020): backbone, span-corruption pretraining task, presets."""

from kerasnlp_lite.models.t5.t5_backbone import T5Backbone
from kerasnlp_lite.models.t5.t5_denoiser import T5Denoiser
