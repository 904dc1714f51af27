"""Corrupted checkpoint files fail with a CheckpointError naming the file (issue #17)."""

import os
import shutil

import pytest

from kerasnlp_lite.checkpoints import from_hf, from_hf_tokenizer
from kerasnlp_lite.checkpoints.hf import CheckpointError

TINY_GPT2 = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "tiny_gpt2")


def test_from_hf_truncated_safetensors(tmp_path):
    target = tmp_path / "gpt2"
    shutil.copytree(TINY_GPT2, target)
    weights = target / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="model.safetensors.*not a readable safetensors file"):
        from_hf(str(target))


def test_from_hf_tokenizer_vocab_json_that_is_not_json(tmp_path):
    (tmp_path / "vocab.json").write_text("{not json")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(CheckpointError, match="vocab.json.*not a valid JSON file"):
        from_hf_tokenizer(str(tmp_path))
