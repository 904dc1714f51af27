"""Which checkpoint a run resumes from, and whether it may.

A checkpoint's manifest records the config of the run that wrote it and the
sha256 of its tokenizer. A rerun resumes the newest checkpoint that verifies
(`checkpointing.latest_checkpoint`) only when every field that says *what*
is trained is unchanged; otherwise it is refused with the fields named,
unless forced. Before, a rerun with another `--checkpoint-every` silently
ended short (the restored epoch was mapped to a step with the new interval):
the step is now stored, so that field, like the others that only say where
and how fast the run goes, may change.
"""

import dataclasses
import hashlib
import os
import warnings

from kerasnlp_lite.training.checkpointing import CheckpointError, CheckpointWarning, latest_checkpoint
from kerasnlp_lite.training.strategy import task_id

# Fields a resumed run may change: they say where and how fast it runs, not what it trains. The step
# is stored in the checkpoint, so `checkpoint_every` and `steps_per_execution` only move the next
# checkpoints and compiled calls. Any other change is refused unless forced.
RESUME_MAY_CHANGE = ("out", "verbose", "strategy", "tpu", "jit_compile", "steps_per_execution", "checkpoint_every")


def backup_dir(config):
    """This worker's checkpoint directory: `out/backup/worker_<task id>`."""
    # One backup directory per worker: every worker writes its own checkpoints.
    return os.path.join(config.out, "backup", f"worker_{task_id()}")


def checkpoint_metadata(config, tokenizer_proto):
    """What each checkpoint's manifest records of the run: its config and the tokenizer's sha256."""
    return {"config": dataclasses.asdict(config), "tokenizer_sha256": hashlib.sha256(tokenizer_proto).hexdigest()}


def _changes(metadata, config, tokenizer_proto):
    """The fields of `config` that differ from the checkpoint's run, as "name: then -> now" strings."""
    saved, current = metadata.get("config", {}), dataclasses.asdict(config)
    changes = [
        f"{name}: {saved[name]!r} -> {value!r}"
        for name, value in current.items()
        if name not in RESUME_MAY_CHANGE and name in saved and saved[name] != value
    ]
    if tokenizer_proto is not None and metadata.get("tokenizer_sha256") != hashlib.sha256(tokenizer_proto).hexdigest():
        changes.append(f"tokenizer: {os.path.join(config.out, 'tokenizer.model')} is not the one the checkpoint used")
    return changes


def resume_checkpoint(config, tokenizer_proto=None, force=False):
    """The checkpoint a run of `config` resumes from, and its arrays; (None, None) to start at step 0.

    The newest checkpoint of this worker that verifies (sha256 of manifest
    and data); each newer one that does not is skipped with a
    `CheckpointWarning`.

    Args:
        config: the `TrainConfig` of the new run.
        tokenizer_proto: the vocabulary the new run uses (None: not checked).
        force: resume even when config fields changed (with a warning naming them).

    Raises:
        CheckpointError: there are checkpoints but none verifies (never a
            restart from fresh weights at a later data position), a field
            outside `RESUME_MAY_CHANGE` changed and `force` is False (the
            message names the fields), or the stored step does not fit
            this run.
    """
    checkpoint, arrays = latest_checkpoint(backup_dir(config))
    if checkpoint is None:
        return None, None
    changes = _changes(checkpoint.manifest["metadata"], config, tokenizer_proto)
    where = f"{config.out} holds a checkpoint at step {checkpoint.step}"
    if changes and not force:
        raise CheckpointError(
            f"{where} of a run with other settings ({'; '.join(changes)}): rerun with the same values to resume it, "
            "pass --force (train(..., force=True)) to resume it with the new ones, or use another --out."
        )
    if changes:
        warnings.warn(f"{where}; resuming it with changed settings: {'; '.join(changes)}.", CheckpointWarning, stacklevel=2)
    if checkpoint.step > config.steps or checkpoint.step % config.steps_per_execution:
        raise CheckpointError(
            f"{where}: this run needs a step <= steps={config.steps} and a multiple of "
            f"steps_per_execution={config.steps_per_execution}."
        )
    return checkpoint, arrays


def restored_step(config):
    """The step a run of `config` would resume at: that of the newest usable checkpoint (0 if none)."""
    checkpoint, _ = latest_checkpoint(backup_dir(config))
    return checkpoint.step if checkpoint else 0


def check_resumable(config, force=False):
    """Raises `CheckpointError` when `train(config, force=force)` would refuse to resume; returns the step it would.

    Checks the checkpoint against `out/tokenizer.model` when there is one.
    """
    path = os.path.join(config.out, "tokenizer.model")
    proto = None
    if os.path.exists(path):
        with open(path, "rb") as f:
            proto = f.read()
    checkpoint, _ = resume_checkpoint(config, proto, force)
    return checkpoint.step if checkpoint else 0
