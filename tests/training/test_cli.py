"""`kerasnlp-lite train`: every flag's default, flags over a config file, and a run end to end."""

import argparse
import dataclasses
import json
import os
import sys

import keras
import pytest

from kerasnlp_lite.training import TrainConfig
from kerasnlp_lite.training.cli import add_train_parser, config_from_args, run_train
from tests.training._processes import run_process


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def test_every_flag_defaults_to_train_config():
    assert config_from_args(_parse([])) == TrainConfig()
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields <= set(vars(_parse([])))


def test_flags_override_the_config_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": "bert_tiny", "steps": 200, "checkpoint_every": 50}))
    config = config_from_args(_parse(["--config", str(path), "--steps", "100", "--jit-compile", "--dtype", "mixed_bfloat16"]))
    assert (config.model, config.steps, config.checkpoint_every, config.jit_compile, config.dtype) == (
        "bert_tiny", 100, 50, True, "mixed_bfloat16")
    assert run_train(_parse(["--steps", "150"])) == 2  # not a multiple of checkpoint_every: refused before training


SMALL = ["--steps", "4", "--checkpoint-every", "2", "--global-batch-size", "8", "--sequence-length", "32",
         "--vocabulary-size", "300", "--max-documents", "300", "--warmup-steps", "1", "--verbose", "0"]


@pytest.mark.slow
def test_train_command_writes_model_logs_and_resumable_checkpoints(tmp_path):
    out = tmp_path / "run"
    code, output = run_process(
        [sys.executable, "-m", "kerasnlp_lite.training.cli", "--model", "gpt2_tiny", "--data", "builtin",
         "--strategy", "auto", "--out", str(out), *SMALL],
        timeout=240,
    )
    assert code == 0, output[-3000:]
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["initial_step"] == 0 and summary["replicas"] == 1 and summary["model_path"] == str(out / "model.keras")
    import kerasnlp_lite.models  # noqa: F401  (registers the model classes)

    model = keras.saving.load_model(str(out / "model.keras"))
    assert int(model.optimizer.iterations.numpy()) == 4
    # A fresh process that imports nothing but `kerasnlp_lite.saving` (as the export command and its
    # converter children do) finds the training optimizer and schedule of the saved compile config.
    code, output = run_process(
        [sys.executable, "-c", "import sys; from kerasnlp_lite.saving import load_model; "
         "print(int(load_model(sys.argv[1]).optimizer.iterations.numpy()))", str(out / "model.keras")],
        timeout=240,
    )
    assert code == 0 and output.strip().splitlines()[-1] == "4", output[-3000:]
    assert os.listdir(out / "logs" / "train")  # TensorBoard event file
    assert json.loads((out / "config.json").read_text())["steps"] == 4
    assert not (out / "backup" / "worker_0").exists()  # BackupAndRestore deletes its backup after a finished run


@pytest.mark.slow
def test_train_command_bert_masked_lm(tmp_path):
    assert run_train(_parse(["--model", "bert_tiny", "--out", str(tmp_path), *SMALL])) == 0
    assert (tmp_path / "model.keras").exists()
