"""`kerasnlp-lite train`: flags and their derived defaults, a 30-step run end to end, its export and on-device text."""

import argparse
import contextlib
import dataclasses
import io
import json
import os
import sys
import typing

import numpy as np
import pytest

from kerasnlp_lite.cli import main as cli_main
from kerasnlp_lite.training import TrainConfig, train
from kerasnlp_lite.training.cli import TRAIN_FLAGS, add_train_parser, config_from_args, run_train
from kerasnlp_lite.training.optimizers import DECAYS
from kerasnlp_lite.training.strategy import STRATEGY_KINDS
from kerasnlp_lite.training.trainer import DTYPES
from tests.training._processes import Interrupted, interrupt_after_first_checkpoint, run_process


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_train_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def test_every_flag_defaults_to_train_config():
    assert config_from_args(_parse([])) == TrainConfig()
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields <= set(vars(_parse([])))


def test_train_flags_match_train_config():
    # The flags are written out in kerasnlp_lite.cli (so that --help imports no TensorFlow): same fields,
    # types, defaults and choices as TrainConfig.
    hints = typing.get_type_hints(TrainConfig)
    assert list(TRAIN_FLAGS) == [f.name for f in dataclasses.fields(TrainConfig)]
    for field in dataclasses.fields(TrainConfig):
        kind, default, _, _ = TRAIN_FLAGS[field.name]
        assert (kind, default) == (hints[field.name], field.default), field.name
    choices = {name: spec[2] for name, spec in TRAIN_FLAGS.items() if spec[2] is not None}
    assert choices == {"data": ("builtin",), "decay": DECAYS, "dtype": DTYPES, "strategy": STRATEGY_KINDS,
                       "verbose": (0, 1, 2)}


def test_flags_override_the_config_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": "bert_tiny", "steps": 200, "checkpoint_every": 50}))
    config = config_from_args(_parse(["--config", str(path), "--steps", "100", "--jit-compile", "--dtype", "mixed_bfloat16"]))
    assert (config.model, config.steps, config.checkpoint_every, config.jit_compile, config.dtype) == (
        "bert_tiny", 100, 50, True, "mixed_bfloat16")
    # Fields the file leaves out are derived from the steps the flags give.
    path.write_text(json.dumps({"model": "bert_tiny"}))
    config = config_from_args(_parse(["--config", str(path), "--steps", "40"]))
    assert (config.checkpoint_every, config.warmup_steps) == (40, 4)


@pytest.mark.parametrize(
    "steps, steps_per_execution, checkpoint_every, warmup_steps",
    [(1, 1, 1, 0), (9, 1, 9, 0), (30, 1, 30, 3), (100, 1, 100, 10), (150, 1, 100, 15), (500, 1, 100, 50),
     (5000, 1, 100, 50), (32, 4, 32, 3), (1020, 30, 90, 50), (600, 200, 200, 50)],
)
def test_defaults_derived_from_steps(steps, steps_per_execution, checkpoint_every, warmup_steps):
    config = TrainConfig(steps=steps, steps_per_execution=steps_per_execution)
    assert (config.checkpoint_every, config.warmup_steps) == (checkpoint_every, warmup_steps)
    assert config.checkpoint_every % steps_per_execution == 0
    # Epochs of `checkpoint_every` steps; only the last may be shorter.
    assert config.epochs == -(-steps // checkpoint_every)


def test_given_values_are_still_checked(capsys):
    cases = [
        (["--steps", "30", "--checkpoint-every", "100"], "must be a multiple of `checkpoint_every`=100"),
        (["--steps", "150", "--checkpoint-every", "100"], "pass a divisor of 150"),
        (["--steps", "30", "--warmup-steps", "50"], "warmup_steps < steps"),
        (["--steps", "30", "--steps-per-execution", "4"], "multiple of `steps_per_execution`=4"),
        (["--steps", "40", "--checkpoint-every", "10", "--steps-per-execution", "4"], "steps_per_execution"),
        (["--steps", "0"], "`steps` must be a positive int"),
        (["--learning-rate", "nan"], "`learning_rate` must be a positive finite float"),
        (["--learning-rate", "0"], "`learning_rate` must be a positive finite float"),
    ]
    for argv, message in cases:
        assert run_train(_parse(argv)) == 2, argv  # refused before anything trains
        error = capsys.readouterr().err
        assert error.startswith("kerasnlp-lite train: error: ") and message in error and "Traceback" not in error, error
    assert TrainConfig(steps=30, checkpoint_every=10, warmup_steps=0).checkpoint_every == 10


TINY = dict(model="gpt2_tiny", global_batch_size=2, sequence_length=16, vocabulary_size=200, max_documents=100,
            dropout=0.0, verbose=0)


@pytest.mark.slow
def test_shorter_last_interval_resumes_exactly(tmp_path):
    # 110 steps: checkpoints every min(100, 110) = 100 steps, then a 10-step last epoch (the fewest steps
    # with a derived interval and a shorter last epoch; steps_per_execution 10 divides both).
    config = dict(TINY, steps=110, steps_per_execution=10)
    straight = train(TrainConfig(out=str(tmp_path / "straight"), **config))
    assert int(straight.model.optimizer.iterations.numpy()) == 110 and len(straight.history["loss"]) == 2
    with pytest.raises(Interrupted):
        train(TrainConfig(out=str(tmp_path / "resumed"), **config), callbacks=[interrupt_after_first_checkpoint()])
    # The checkpoint stores its step: a rerun with another interval resumes at that step (it used to map the
    # restored epoch to epoch x new interval and end short, exit code 0), here in one 10-step epoch.
    resumed = train(TrainConfig(out=str(tmp_path / "resumed"), **dict(config, checkpoint_every=10)))
    assert resumed.initial_step == 100 and int(resumed.model.optimizer.iterations.numpy()) == 110
    assert resumed.history["loss"] == straight.history["loss"][1:]  # the 10-step epoch, the same batches
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(resumed.model.weights, straight.model.weights))
    assert diff <= 1e-6, diff
    assert not (tmp_path / "resumed" / "backup" / "worker_0").exists()


def _flags(config):
    return [part for name, value in config.items() for part in ("--" + name.replace("_", "-"), str(value))]


# --- the user's command: `train --model gpt2_tiny --data builtin --steps 30 --out run` ---------------------
# Flags that make it fast on 2 cores; none of them is one the defaults are derived for (no
# --checkpoint-every, --warmup-steps or --steps-per-execution): `--steps 30` alone must work.
FAST = ["--global-batch-size", "8", "--sequence-length", "32", "--vocabulary-size", "300", "--max-documents", "300",
        "--verbose", "0"]
PROMPT = "Return the"


def _main_in_process(argv):
    # The command's own entry point, `kerasnlp_lite.cli.main`, in this process (the console script and its
    # imports are tests/test_cli.py's): returns (exit code, stdout).
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli_main(argv)
    return code, stdout.getvalue()


# One run of the train command (and one export, one load of its model) shared by the tests below.
@pytest.fixture(scope="module")
def run_30_steps(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    code, output = _main_in_process(
        ["train", "--model", "gpt2_tiny", "--data", "builtin", "--steps", "30", "--out", str(out), *FAST])
    assert code == 0, output[-3000:]
    return out, json.loads(output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained_model(run_30_steps):
    from kerasnlp_lite.saving import load_model

    return load_model(str(run_30_steps[0] / "model.keras"))


@pytest.fixture(scope="module")
def exported_30_steps(run_30_steps, tmp_path_factory):
    out, _ = run_30_steps
    folder = tmp_path_factory.mktemp("export")
    code, output = _main_in_process(
        ["export", "--model", str(out / "model.keras"), "--format", "tflite", "--out", str(folder)])
    assert code == 0, output[-3000:]
    return folder / "model.tflite"


@pytest.mark.slow
def test_train_30_steps_alone_writes_model_logs_and_derived_defaults(run_30_steps):
    out, summary = run_30_steps
    assert summary["initial_step"] == 0 and summary["replicas"] == 1
    assert summary["model_path"] == str(out / "model.keras")
    assert (summary["steps"], summary["checkpoint_every"], summary["warmup_steps"]) == (30, 30, 3)
    saved = json.loads((out / "config.json").read_text())
    assert (saved["steps"], saved["checkpoint_every"], saved["warmup_steps"]) == (30, 30, 3)
    # A fresh process that imports nothing but `kerasnlp_lite.saving` (as the export command and its
    # converter children do) finds the training optimizer and schedule, and the preprocessor.
    code, output = run_process(
        [sys.executable, "-c", "import sys; from kerasnlp_lite.saving import load_model; m = load_model(sys.argv[1]); "
         "print(int(m.optimizer.iterations.numpy()), type(m.preprocessor).__name__)", str(out / "model.keras")],
        timeout=300,
    )
    assert code == 0 and output.strip().splitlines()[-1] == "30 CausalLMPreprocessor", output[-3000:]
    assert os.listdir(out / "logs" / "train")  # TensorBoard event file
    assert (out / "tokenizer.model").stat().st_size > 0  # kept for a resumed run
    assert not (out / "backup" / "worker_0").exists()  # a finished run deletes its checkpoints


@pytest.mark.slow
def test_trained_model_takes_strings(run_30_steps, trained_model, capsys):
    from kerasnlp_lite.models import CausalLMPreprocessor

    out, _ = run_30_steps
    model = trained_model
    preprocessor = model.preprocessor
    assert isinstance(preprocessor, CausalLMPreprocessor)
    assert preprocessor.tokenizer.proto == (out / "tokenizer.model").read_bytes()
    assert preprocessor.end_token_id == preprocessor.tokenizer.eos_token_id  # as the training blocks end documents
    assert preprocessor.sequence_length == 32
    text = model.generate(PROMPT, max_length=12)
    assert isinstance(text, str) and text.startswith(PROMPT)
    # The command: one line per prompt, greedy, stopping at the preprocessor's end token.
    assert cli_main(["generate", "--model", str(out / "model.keras"), "--max-length", "12", PROMPT, "A list"]) == 0
    lines = capsys.readouterr().out.split("\n")[:-1]
    expected = model.generate([PROMPT, "A list"], max_length=12, stop_token_ids=[preprocessor.end_token_id])
    assert lines == expected


@pytest.mark.slow
def test_export_of_the_trained_model_generates_on_device(trained_model, exported_30_steps, capsys):
    from kerasnlp_lite.export import LiteRunner

    runner = LiteRunner(str(exported_30_steps))
    assert {"tokenize", "detokenize", "prefill", "decode", "generate"} <= set(runner.signatures)  # no extra flag
    assert runner.max_length == 32
    capsys.readouterr()
    assert cli_main(["generate", "--model", str(exported_30_steps), "--json", PROMPT, "A list"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # only JSON lines on stdout
    # Greedy on device = greedy in Keras on the same ids (the file has no end token: no stop on either side).
    expected = trained_model.generate([PROMPT, "A list"], max_length=32)
    assert printed == [{"prompt": PROMPT, "text": expected[0]}, {"prompt": "A list", "text": expected[1]}]
    assert printed[0]["text"].startswith(PROMPT) and len(printed[0]["text"]) > len(PROMPT)
    # Sampling on device: top-k with a seed repeats itself.
    args = ["generate", "--model", str(exported_30_steps), "--sampler", "top_k", "--k", "5", "--seed", "3", PROMPT]
    assert cli_main(args) == 0 and cli_main(args) == 0
    first, second = capsys.readouterr().out.split("\n")[:2]
    assert first == second and first.startswith(PROMPT)
    # What the exported loop cannot do is refused in one line, exit code 2.
    for argv, message in [
        (["--sampler", "beam"], "--sampler beam is not in the .tflite generate loop"),
        (["--p", "0.9"], "--sampler greedy takes no --p"),
        (["--max-length", "33"], "exceeds the exported max_length=32"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["generate", "--model", str(exported_30_steps), *argv, PROMPT])
        error = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in error and "Traceback" not in error, error


@pytest.mark.slow
def test_train_command_bert_masked_lm(tmp_path):
    from kerasnlp_lite.models import MaskedLMPreprocessor
    from kerasnlp_lite.saving import load_model

    small = ["--steps", "1", "--global-batch-size", "8", "--sequence-length", "32", "--vocabulary-size", "300",
             "--max-documents", "300", "--verbose", "0"]
    assert run_train(_parse(["--model", "bert_tiny", "--out", str(tmp_path), *small])) == 0
    preprocessor = load_model(str(tmp_path / "model.keras")).preprocessor
    assert isinstance(preprocessor, MaskedLMPreprocessor)
    tokenizer = preprocessor.tokenizer
    assert (preprocessor.mask_token_id, preprocessor.start_token_id, preprocessor.end_token_id) == tuple(
        tokenizer.token_to_id(token) for token in ("[MASK]", "[CLS]", "[SEP]"))
