"""Generation: samplers, the cached decode loop, and prompt builders."""

from kerasnlp_lite.generation.prompts import few_shot_prompt
