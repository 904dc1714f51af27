"""Generation: samplers, the cached decode loop, and prompt builders."""

from kerasnlp_lite.generation.prompts import few_shot_prompt
from kerasnlp_lite.generation.samplers import (
    BeamSearch,
    GreedySampler,
    RandomSampler,
    Sampler,
    TopKSampler,
    TopPSampler,
    get_sampler,
)
from kerasnlp_lite.generation.decode import prepare_prompts
from kerasnlp_lite.generation.scoring import score_choices
