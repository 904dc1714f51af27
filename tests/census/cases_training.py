"""Census cases: training config, optimizers, strategies, training resume, the `kerasnlp-lite` command and
checkpoint reading.

Resume cases train a tiny GPT for a few steps in this process (interrupted after its first checkpoint, as
tests/training/test_cli.py does), then damage the run folder and resume.
"""

import contextlib
import io
import json
import os
import shutil

from kerasnlp_lite import training
from tests.census.harness import Case, Clear, Deep
from tests.training._processes import Interrupted, interrupt_after_first_checkpoint

ARG = "argument"
RESUME = "training resume"
CLI = "CLI"
FILE = "corrupted file"

TINY = dict(model="gpt2_tiny", global_batch_size=2, sequence_length=16, vocabulary_size=200, max_documents=100,
            dropout=0.0, verbose=0, steps=4, checkpoint_every=2)


def _interrupted_run(s, name):
    """A run folder holding the checkpoint of step 2 of 4 (a copy of one interrupted run, made once)."""
    source = s.path("interrupted_run")
    if not os.path.exists(source):
        try:
            training.train(training.TrainConfig(out=source, **TINY), callbacks=[interrupt_after_first_checkpoint()])
        except Interrupted:
            pass
    target = s.path(name)
    shutil.copytree(source, target)
    return target


def _backup_files(out):
    backup = os.path.join(out, "backup")
    return [os.path.join(root, f) for root, _, files in os.walk(backup) for f in files]


def _resume(out, **changes):
    return training.train(training.TrainConfig(out=out, **dict(TINY, **changes)))


def _resume_changed_interval(s):
    return _resume(_interrupted_run(s, "changed_interval"), checkpoint_every=1)


def _resume_deleted_checkpoint(s):
    out = _interrupted_run(s, "deleted")
    for path in _backup_files(out):
        os.remove(path)
    return _resume(out)


def _resume_corrupted_checkpoint(s):
    out = _interrupted_run(s, "corrupted")
    for path in _backup_files(out):
        if not path.endswith(".json"):
            with open(path, "r+b") as f:
                f.seek(max(0, os.path.getsize(path) // 2))
                f.write(b"\x00" * 64)
    return _resume(out)


def _resume_other_sequence_length(s):
    return _resume(_interrupted_run(s, "other_length"), sequence_length=32)


def _resume_deleted_tokenizer(s):
    out = _interrupted_run(s, "no_tokenizer")
    os.remove(os.path.join(out, "tokenizer.model"))
    return _resume(out)


def _cli(argv):
    """Runs `kerasnlp-lite ARGV` in this process: an exit code with an error line and no traceback is `clear`."""
    from kerasnlp_lite.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    text = err.getvalue() + out.getvalue()
    if code in (0, None):
        return text
    lines = [line for line in text.splitlines() if line.strip()]
    if "Traceback" in text:
        raise Deep(f"exit {code} with a traceback: {lines[-1] if lines else ''}")
    error_lines = [line for line in lines if "error" in line.lower()]
    if error_lines:
        raise Clear(error_lines[0])
    raise Deep(f"exit {code} without an error line: {lines[-1] if lines else ''}")


def _hf_folder(s, name, config=None, files=()):
    folder = s.path(name)
    os.makedirs(folder, exist_ok=True)
    if config is not None:
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f)
    for file_name, content in files:
        with open(os.path.join(folder, file_name), "wb") as f:
            f.write(content)
    return folder


def cases():
    from kerasnlp_lite.checkpoints import from_hf, from_hf_tokenizer

    C = Case
    config = training.TrainConfig
    return [
        C("training.TrainConfig", "steps=0", lambda s: config(steps=0)),
        C("training.TrainConfig", "model='gpt5'", lambda s: config(model="gpt5")),
        C("training.TrainConfig", "learning_rate=-1", lambda s: config(learning_rate=-1.0)),
        C("training.TrainConfig", "dtype='float64'", lambda s: config(dtype="float64")),
        C("training.TrainConfig", "strategy='tpu_pod'", lambda s: config(strategy="tpu_pod")),
        C("training.TrainConfig", "decay='exponential'", lambda s: config(decay="exponential")),
        C("training.TrainConfig", "dropout=1.5", lambda s: config(dropout=1.5)),
        C("training.TrainConfig", "global_batch_size=0", lambda s: config(global_batch_size=0)),
        C("training.TrainConfig", "checkpoint_every that does not divide steps",
          lambda s: config(steps=30, checkpoint_every=7)),
        C("training.TrainConfig", "data='wikipedia'", lambda s: config(data="wikipedia")),
        C("training.TrainConfig", "steps='100' (a string)", lambda s: config(steps="100")),
        C("training.AdamW", "learning_rate=-0.1", lambda s: training.AdamW(learning_rate=-0.1)),
        C("training.AdamW", "weight_decay=-1", lambda s: training.AdamW(weight_decay=-1.0)),
        C("training.WarmupDecay", "peak_learning_rate=-1e-3", lambda s: training.WarmupDecay(-1e-3, 1, 5)),
        C("training.WarmupDecay", "decay='step'", lambda s: training.WarmupDecay(1e-3, 1, 5, decay="step")),
        C("training.create_optimizer", "total_steps=0",
          lambda s: training.create_optimizer(s.classifier, 1e-3, total_steps=0)),
        C("training.create_optimizer", "warmup_steps > total_steps",
          lambda s: training.create_optimizer(s.classifier, 1e-3, total_steps=5, warmup_steps=10)),
        C("training.get_strategy", "kind='gpu_cluster'", lambda s: training.get_strategy("gpu_cluster")),
        C("training.configure_logical_cpus", "count=0", lambda s: training.configure_logical_cpus(0)),
        C("training.build_model", "vocabulary_size=0", lambda s: training.build_model(config(), 0)),
        C("training.restored_step", "a run whose only checkpoint manifest is garbled", _garbled_metadata, kind=FILE),
        # Resume.
        C("training.train", "resume with another checkpoint_every", _resume_changed_interval, kind=RESUME,
          timeout=240, expect="documented: allowed (the checkpoint stores its step); resumes at step 2",
          check=lambda result: result.initial_step == 2),
        C("training.train", "resume after every checkpoint file was deleted",
          _resume_deleted_checkpoint, kind=RESUME, timeout=240,
          expect="documented: no checkpoint left, so a fresh run from step 0 (never fresh weights at a later step)",
          check=lambda result: result.initial_step == 0),
        C("training.train", "resume from a corrupted checkpoint", _resume_corrupted_checkpoint, kind=RESUME,
          timeout=240),
        C("training.train", "resume with another sequence_length", _resume_other_sequence_length, kind=RESUME,
          timeout=240, expect="error, or a run that restarts the data at step 2 (documented?)"),
        C("training.train", "resume after tokenizer.model was deleted", _resume_deleted_tokenizer, kind=RESUME,
          timeout=240, expect="error, or the same tokenizer retrained (deterministic)",
          check=lambda result: result.initial_step == 2),
        # The command.
        C("cli.main", "train --steps abc", lambda s: _cli(["train", "--steps", "abc"]), kind=CLI),
        C("cli.main", "train --steps 0", lambda s: _cli(["train", "--steps", "0", "--out", s.path("cli0")]), kind=CLI),
        C("cli.main", "train --config of a missing file",
          lambda s: _cli(["train", "--config", s.path("missing.json")]), kind=CLI),
        C("cli.main", "train --config of a file that is not JSON",
          lambda s: _cli(["train", "--config", _hf_folder(s, "cfg", files=[("c.json", b"{oops")]) + "/c.json"]),
          kind=CLI),
        C("cli.main", "train --config with an unknown field",
          lambda s: _cli(["train", "--config", _hf_folder(s, "cfg2", files=[("c.json", b'{"stpes": 3}')]) + "/c.json"]),
          kind=CLI),
        C("cli.main", "generate --model of a missing file",
          lambda s: _cli(["generate", "hi", "--model", s.path("missing.keras")]), kind=CLI),
        C("cli.main", "generate --model of a file that is not a model",
          lambda s: _cli(["generate", "hi", "--model", _hf_folder(s, "junk", files=[("m.keras", b"junk")]) +
                          "/m.keras"]), kind=CLI),
        C("cli.main", "export --model of a missing file",
          lambda s: _cli(["export", "--model", s.path("missing.keras"), "--out", s.path("exp")]), kind=CLI),
        C("cli.main", "predict with a generation bundle",
          lambda s: _cli(["predict", "a cat", "--model", s.lm_bundle]), kind=CLI, timeout=400),
        C("cli.main", "generate on a .tflite with --sampler top_k --k 0",
          lambda s: _cli(["generate", "Return", "--model", s.lm_bundle, "--sampler", "top_k", "--k", "0"]), kind=CLI),
        C("cli.main", "generate on a .tflite with --temperature 0",
          lambda s: _cli(["generate", "Return", "--model", s.lm_bundle, "--sampler", "top_k", "--k", "3",
                          "--temperature", "0"]), kind=CLI),
        # Checkpoint reading.
        C("checkpoints.from_hf", "a missing folder", lambda s: from_hf(s.path("no_such_model")), kind=FILE),
        C("checkpoints.from_hf", "config.json with model_type='llama'",
          lambda s: from_hf(_hf_folder(s, "llama", {"model_type": "llama"})), kind=FILE),
        C("checkpoints.from_hf", "a folder with config.json but no weights",
          lambda s: from_hf(_hf_folder(s, "noweights", {"model_type": "bert", "vocab_size": 10, "hidden_size": 8,
                                                         "num_hidden_layers": 1, "num_attention_heads": 2,
                                                         "intermediate_size": 16})), kind=FILE),
        C("checkpoints.from_hf", "task='translation'",
          lambda s: from_hf(os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "tiny_gpt2"),
                            task="translation")),
        C("checkpoints.from_hf", "a truncated model.safetensors",
          lambda s: from_hf(_truncated_tiny_gpt2(s)), kind=FILE),
        C("checkpoints.from_hf_tokenizer", "an empty folder", lambda s: from_hf_tokenizer(_hf_folder(s, "empty")),
          kind=FILE),
        C("checkpoints.from_hf_tokenizer", "a vocab.json that is not JSON",
          lambda s: from_hf_tokenizer(_hf_folder(s, "badvocab", {"model_type": "gpt2"},
                                                 files=[("vocab.json", b"{oops"), ("merges.txt", b"#version\n")])),
          kind=FILE),
    ]


def _truncated_tiny_gpt2(s):
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "tiny_gpt2")
    target = s.path("tiny_gpt2_truncated")
    if not os.path.exists(target):
        shutil.copytree(source, target)
        path = os.path.join(target, "model.safetensors")
        content = open(path, "rb").read()
        with open(path, "wb") as f:
            f.write(content[: len(content) // 2])
    return target


def _garbled_metadata(s):
    out = _interrupted_run(s, "garbled_manifest")
    manifests = [p for p in _backup_files(out) if p.endswith(".json")]
    for path in manifests:
        with open(path, "w") as f:
            f.write("{not json")
    return training.restored_step(training.TrainConfig(out=out, **TINY))
