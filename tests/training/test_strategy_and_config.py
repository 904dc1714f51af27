"""`get_strategy` choices that run in this process, and `TrainConfig` validation."""

import json

import pytest
import tensorflow as tf

from kerasnlp_lite.training import TrainConfig, get_strategy
from kerasnlp_lite.training.strategy import is_chief, task_id, tf_config_cluster


def test_default_and_auto_on_one_cpu(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert get_strategy("default") is tf.distribute.get_strategy()
    # No TPU, no cluster, one logical CPU here (pytest never splits the CPU).
    strategy = get_strategy("auto")
    assert strategy.num_replicas_in_sync == 1
    assert not isinstance(strategy, (tf.distribute.MirroredStrategy, tf.distribute.TPUStrategy))


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        get_strategy("horovod")
    with pytest.raises(ValueError, match="tpu"):
        get_strategy("mirrored", tpu="my-tpu")


def test_tpu_without_a_tpu_fails_fast():
    # TPUClusterResolver() raises ValueError at once when no TPU is found (TF 2.20).
    with pytest.raises(ValueError):
        get_strategy("tpu")


def test_tf_config_roles(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert tf_config_cluster() is None and is_chief() and task_id() == 0
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert tf_config_cluster() == cluster and not is_chief() and task_id() == 1
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster}))
    with pytest.raises(ValueError, match="task"):
        tf_config_cluster()


def test_train_config_defaults_and_checks(tmp_path):
    config = TrainConfig()
    assert (config.model, config.steps, config.strategy, config.dtype) == ("gpt2_tiny", 500, "auto", "float32")
    with pytest.raises(ValueError, match="multiple of `checkpoint_every`"):
        TrainConfig(steps=150, checkpoint_every=100)
    with pytest.raises(ValueError, match="steps_per_execution"):
        TrainConfig(steps=100, checkpoint_every=50, steps_per_execution=3)
    with pytest.raises(ValueError, match="Unknown model preset"):
        TrainConfig(model="gpt5")
    with pytest.raises(ValueError, match="dtype"):
        TrainConfig(dtype="float16")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model": "bert_tiny", "steps": 200}))
    loaded = TrainConfig.from_json(str(path), steps=300)
    assert (loaded.model, loaded.steps) == ("bert_tiny", 300)
    path.write_text(json.dumps({"modle": "bert_tiny"}))
    with pytest.raises(ValueError, match="modle"):
        TrainConfig.from_json(str(path))
