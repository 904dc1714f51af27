"""Training checkpoints that survive a kill at any instant, and their verification on resume.

Keras' `BackupAndRestore` overwrites its only checkpoint in place: a kill
during that write can leave nothing to resume from, and it keeps no checksum,
so flipped bytes train on silently. Here a checkpoint is two files in a
worker's backup directory, written in this order, each to a temporary file
that is flushed, fsynced and then renamed over its final name (a rename is
atomic on POSIX file systems):

1. `ckpt-<step>-<random>.npz`: the variables (model weights, dropout seed
   state, optimizer variables) as numpy arrays, keys `v0, v1, ...`; never
   pickles. The random suffix means a new file never replaces one that an
   older manifest still names.
2. `ckpt-<step>.json`, the manifest, written last: the step, the data file's
   name, size and sha256, each variable's path, shape and dtype, the run's
   config and the tokenizer's sha256, and its own sha256 (a flipped byte in
   the manifest could otherwise still parse, e.g. as another step).

A checkpoint exists once its manifest does. A kill before that leaves only
temporary or unreferenced files, which the next write deletes; a kill after
it leaves a whole checkpoint. The newest `keep` (2) checkpoints are kept, so
one that is damaged later still has a good predecessor. `latest_checkpoint`
tries them newest first, warns (`CheckpointWarning`) about each it skips and
raises `CheckpointError` when there were checkpoints but none is usable:
never a silent restart from fresh weights at a later data offset.
"""

import dataclasses
import hashlib
import io
import json
import os
import re
import warnings

import numpy as np

FORMAT = "kerasnlp_lite.training_checkpoint.v1"
KEEP = 2
_MANIFEST = re.compile(r"^ckpt-(\d{9})\.json$")
_DATA = re.compile(r"^ckpt-\d{9}-[0-9a-f]{8}\.npz$")
_TEMPORARY = ".tmp-"


class CheckpointError(ValueError):
    """No usable checkpoint, or one that does not fit this run."""


class CheckpointWarning(UserWarning):
    """A checkpoint was skipped (damaged or incomplete) for an older one."""


@dataclasses.dataclass
class Checkpoint:
    """A checkpoint found on disk: its step, manifest path and manifest body (None if unreadable)."""

    step: int
    path: str
    manifest: dict = None


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _canonical(body):
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _fsync_directory(directory):
    # Makes the rename itself durable (the directory entry), not only the file's bytes.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path, data):
    """Writes `data` (bytes) to `path` through a temporary file: a reader sees the old file or the whole new one."""
    temporary = f"{path}{_TEMPORARY}{os.getpid()}"
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def write_checkpoint(directory, step, arrays, names, metadata, keep=KEEP):
    """Writes a checkpoint of `arrays` at `step`; then deletes older ones but the newest `keep`, and leftovers.

    Checkpoints of later steps (left by a run this one resumed before) are
    deleted too, as are temporary files and data files no manifest names.

    Args:
        directory: the worker's backup directory (created if needed).
        step: optimizer steps done (the data position of a resumed run).
        arrays: list of numpy arrays, the state in a fixed order.
        names: one name per array (variable paths), checked on restore.
        metadata: JSON-serializable dict stored in the manifest (the run's config, ...).
        keep: how many checkpoints to keep (at least 2, so a damaged newest one has a predecessor).

    Returns:
        The manifest's path.
    """
    if len(arrays) != len(names):
        raise ValueError(f"Need one name per array, got {len(names)} names for {len(arrays)} arrays.")
    if keep < 2:
        raise ValueError(f"`keep` must be at least 2 (the newest and the previous good checkpoint), got {keep!r}.")
    os.makedirs(directory, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{f"v{i}": np.asarray(a) for i, a in enumerate(arrays)})
    data = buffer.getvalue()
    data_name = f"ckpt-{step:09d}-{os.urandom(4).hex()}.npz"
    write_durable(os.path.join(directory, data_name), data)
    body = {
        "format": FORMAT,
        "step": int(step),
        "data": data_name,
        "size": len(data),
        "sha256": _sha256(data),
        "variables": [
            {"name": n, "shape": list(np.shape(a)), "dtype": str(np.asarray(a).dtype)} for n, a in zip(names, arrays)
        ],
        "metadata": metadata,
    }
    manifest = {"body": body, "sha256": _sha256(_canonical(body))}
    path = os.path.join(directory, f"ckpt-{step:09d}.json")
    write_durable(path, json.dumps(manifest, indent=1).encode())
    _prune(directory, step, keep)
    return path


def _prune(directory, step, keep):
    found = list_checkpoints(directory)
    # Checkpoints past `step` belong to a future this run abandoned (it resumed from an older one,
    # e.g. after a damaged newest): they go, so that `keep` counts the checkpoints of this run.
    stale = [c for c in found if c.step > step]
    found = [c for c in found if c.step <= step]
    for old in stale + found[keep:]:
        os.remove(old.path)  # manifest first: a kill here leaves an unreferenced data file, not a broken checkpoint
    referenced = {c.manifest["data"] for c in found[:keep] if c.manifest}
    for name in os.listdir(directory):
        if _TEMPORARY in name or (_DATA.match(name) and name not in referenced):
            os.remove(os.path.join(directory, name))


def list_checkpoints(directory):
    """The checkpoints in `directory` (those with a manifest), newest first; `manifest` None if unreadable."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _MANIFEST.match(name)
        if match:
            path = os.path.join(directory, name)
            found.append(Checkpoint(int(match.group(1)), path, _read_manifest(path)))
    return sorted(found, key=lambda c: c.step, reverse=True)


def _read_manifest(path):
    try:
        with open(path, "rb") as f:
            manifest = json.loads(f.read())
        body = manifest["body"]
        if manifest["sha256"] != _sha256(_canonical(body)) or body.get("format") != FORMAT:
            return None
        return body
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_checkpoint(checkpoint):
    """The arrays of `checkpoint`, after checking its manifest and the data's size and sha256.

    Raises:
        CheckpointError: naming what is wrong (unreadable manifest, missing data, wrong sha256, ...).
    """
    body = checkpoint.manifest
    if body is None or body["step"] != checkpoint.step:
        raise CheckpointError(f"{checkpoint.path}: the manifest is unreadable or fails its sha256")
    data_path = os.path.join(os.path.dirname(checkpoint.path), body["data"])
    try:
        with open(data_path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise CheckpointError(f"{data_path}: cannot read the data file ({error.strerror})") from None
    if len(data) != body["size"] or _sha256(data) != body["sha256"]:
        raise CheckpointError(
            f"{data_path}: {len(data)} bytes with sha256 {_sha256(data)[:12]}..., the manifest says {body['size']} "
            f"bytes with sha256 {body['sha256'][:12]}..."
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        arrays = [stored[f"v{i}"] for i in range(len(body["variables"]))]
    for array, spec in zip(arrays, body["variables"]):
        if list(array.shape) != spec["shape"] or str(array.dtype) != spec["dtype"]:
            raise CheckpointError(f"{data_path}: {spec['name']} does not match the manifest")
    return arrays


def latest_checkpoint(directory):
    """The newest checkpoint in `directory` that verifies, and its arrays; (None, None) if there is none.

    Each newer checkpoint that fails verification is skipped with a
    `CheckpointWarning` naming it and why.

    Raises:
        CheckpointError: there are checkpoints, but none verifies.
    """
    found = list_checkpoints(directory)
    problems = []
    for checkpoint in found:
        try:
            arrays = read_checkpoint(checkpoint)
        except CheckpointError as error:
            problems.append(f"step {checkpoint.step}: {error}")
            warnings.warn(
                f"Skipping the checkpoint at step {checkpoint.step} ({error}); trying the previous one.",
                CheckpointWarning,
                stacklevel=2,
            )
            continue
        return checkpoint, arrays
    if problems:
        raise CheckpointError(
            f"No usable checkpoint in {directory}: {'; '.join(problems)}. Not starting from fresh weights at a later "
            "data position: move the directory away to start the run afresh."
        )
    return None, None


def remove_checkpoints(directory):
    """Deletes a finished run's checkpoints (manifests first) and the directory if it is then empty."""
    for checkpoint in list_checkpoints(directory):
        os.remove(checkpoint.path)
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            if _TEMPORARY in name or _DATA.match(name):
                os.remove(os.path.join(directory, name))
        if not os.listdir(directory):
            os.rmdir(directory)
