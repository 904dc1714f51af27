"""`kerasnlp-lite train`: flags (or a JSON file of `TrainConfig` fields) -> `train`.

The flags themselves are defined in `kerasnlp_lite.cli` (`add_train_parser`,
`TRAIN_FLAGS`), which imports nothing heavy, so that `kerasnlp-lite train
--help` answers at once; this module turns parsed flags into a `TrainConfig`
and runs it (`run_train`). It also runs alone: `python -m
kerasnlp_lite.training.cli --model gpt2_tiny --steps 500 --out runs/x`.
"""

import argparse
import json
import sys
import warnings

from kerasnlp_lite.cli import TRAIN_FLAGS, add_train_parser

__all__ = ["TRAIN_FLAGS", "add_train_parser", "config_from_args", "run_train", "main"]


def config_from_args(args):
    """A `TrainConfig` from parsed flags: the flags given, over `--config`'s fields, over the defaults."""
    from kerasnlp_lite.training.trainer import TrainConfig

    given = {name: getattr(args, name) for name in TRAIN_FLAGS if getattr(args, name, None) is not None}
    if getattr(args, "config", None):
        return TrainConfig.from_json(args.config, **given)
    return TrainConfig(**given)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    # A skipped checkpoint or a forced resume is news for the user of the command, not a code location.
    from kerasnlp_lite.training import CheckpointWarning

    if issubclass(category, CheckpointWarning):
        print(f"kerasnlp-lite train: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def run_train(args):
    """Runs `train` for parsed arguments; prints a JSON summary line; returns the exit code.

    Exit code 2, with one line on stderr and before anything trains: a
    configuration error (bad flags, a `--config` file that is missing or
    wrong), checkpoints in `--out` of which none is usable, or a checkpoint
    of a run with other settings and no `--force` (the line names the
    fields). Exit code 1: the loss or the weights became NaN or infinite;
    nothing was saved from them (earlier checkpoints and model are intact).
    """
    try:
        config = config_from_args(args)
    except (ValueError, TypeError, OSError) as error:
        print(f"kerasnlp-lite train: error: {error}", file=sys.stderr)
        return 2
    from kerasnlp_lite.training import CheckpointError, CheckpointWarning, TrainingDivergedError, train

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", CheckpointWarning)
            warnings.showwarning = _show_warning
            result = train(config, force=bool(getattr(args, "force", False)))
    except CheckpointError as error:
        print(f"kerasnlp-lite train: error: {error}", file=sys.stderr)
        return 2
    except TrainingDivergedError as error:
        print(f"kerasnlp-lite train: error: {error}", file=sys.stderr)
        return 1
    losses = result.history.get("loss", [])
    summary = {
        "model": config.model,
        "out": config.out,
        "model_path": result.model_path,
        "initial_step": result.initial_step,
        "steps": config.steps,
        "checkpoint_every": config.checkpoint_every,
        "warmup_steps": config.warmup_steps,
        "replicas": result.strategy.num_replicas_in_sync,
        "strategy": type(result.strategy).__name__,
        "final_loss": losses[-1] if losses else None,
    }
    print(json.dumps(summary))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kerasnlp-lite")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_train_parser(subparsers)
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    return run_train(args)


if __name__ == "__main__":
    sys.exit(main())
