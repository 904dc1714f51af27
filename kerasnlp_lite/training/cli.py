"""`kerasnlp-lite train`: flags (or a JSON file of `TrainConfig` fields) -> `train`.

Wire into the main command with `add_train_parser(subparsers)` and dispatch
`run_train(args)`; also runs alone: `python -m kerasnlp_lite.training.cli
--model gpt2_tiny --steps 500 --out runs/x`.
"""

import argparse
import dataclasses
import json
import sys

_HELP = {
    "model": "GPT preset (causal LM) or BERT preset (masked LM), e.g. gpt2_tiny, bert_tiny",
    "data": "training data: builtin (the stdlib-docstring corpus, SentencePiece vocabulary trained on it)",
    "steps": "optimizer steps of the whole run",
    "global_batch_size": "examples per step over all replicas and workers",
    "sequence_length": "tokens per example",
    "vocabulary_size": "size of the built-in SentencePiece vocabulary",
    "max_documents": "built-in corpus documents used",
    "learning_rate": "peak learning rate (after warmup)",
    "warmup_steps": "linear warmup steps",
    "decay": "decay after warmup: linear or cosine",
    "end_learning_rate": "learning rate at the last step",
    "weight_decay": "AdamW decoupled weight decay (not on biases and LayerNorm)",
    "global_clipnorm": "clip gradients to this global norm",
    "dropout": "dropout rate (default: the preset's)",
    "checkpoint_every": "steps between checkpoints (BackupAndRestore; a killed run resumes from the last)",
    "steps_per_execution": "train steps per compiled call",
    "jit_compile": "XLA-compile the train step (one replica on CPU/GPU; always on TPU)",
    "dtype": "float32, mixed_bfloat16 (TPU, CPU) or mixed_float16 (GPU, with loss scaling)",
    "strategy": "auto, default, mirrored, multi_worker (TF_CONFIG) or tpu",
    "tpu": "TPU name or address for --strategy tpu (e.g. local on a TPU VM)",
    "seed": "seed of weights, example order and masking",
    "out": "run directory: backup/ (checkpoints), logs/ (TensorBoard), model.keras",
    "verbose": "0 silent, 1 progress bar, 2 one line per checkpoint interval",
}


def _flag(name):
    return "--" + name.replace("_", "-")


def add_train_parser(subparsers):
    """Adds the `train` subcommand to an argparse `subparsers`; returns its parser.

    Every flag defaults to None here so that only the flags given override
    `--config`; unset ones take `TrainConfig`'s defaults (shown in --help).
    """
    from kerasnlp_lite.training.trainer import DTYPES, TrainConfig
    from kerasnlp_lite.training.optimizers import DECAYS
    from kerasnlp_lite.training.strategy import STRATEGY_KINDS

    parser = subparsers.add_parser("train", help="train a model preset with tf.distribute (resumable)")
    parser.add_argument("--config", help="JSON file of TrainConfig fields; flags given on the command line win")
    choices = {"decay": DECAYS, "dtype": DTYPES, "strategy": STRATEGY_KINDS, "data": ("builtin",), "verbose": (0, 1, 2)}
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        default = getattr(defaults, field.name)
        help_text = f"{_HELP[field.name]} (default: {default})"
        if field.name == "jit_compile":
            parser.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        kind = {"int": int, "float": float, "bool": bool}.get(field.type if isinstance(field.type, str) else field.type.__name__, str)
        if field.name in ("dropout",):
            kind = float
        parser.add_argument(_flag(field.name), type=kind, default=None, choices=choices.get(field.name), help=help_text)
    return parser


def config_from_args(args):
    from kerasnlp_lite.training.trainer import TrainConfig

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name, None) is not None}
    if getattr(args, "config", None):
        return TrainConfig.from_json(args.config, **given)
    return TrainConfig(**given)


def run_train(args):
    """Runs `train` for parsed arguments; prints a JSON summary line; returns the exit code."""
    try:
        config = config_from_args(args)
    except (ValueError, TypeError, OSError) as error:
        print(f"kerasnlp-lite train: {error}", file=sys.stderr)
        return 2
    from kerasnlp_lite.training.trainer import train

    result = train(config)
    losses = result.history.get("loss", [])
    summary = {
        "model": config.model,
        "out": config.out,
        "model_path": result.model_path,
        "initial_step": result.initial_step,
        "steps": config.steps,
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
