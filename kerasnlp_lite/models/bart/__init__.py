"""BART (Lewis et al. 2020): backbone, denoising pretraining task, presets."""

from kerasnlp_lite.models.bart.bart_backbone import BartBackbone
from kerasnlp_lite.models.bart.bart_denoiser import BartDenoiser
