"""The training entry point: Keras `fit` under any `tf.distribute` strategy, resumable.

`train(config)` does, in order: pick the strategy; find the checkpoint to
resume, if any, and check it; build the data (static shapes); inside
`strategy.scope()` build the model from a preset, the AdamW optimizer and
`compile` (steps_per_execution, jit_compile, mixed precision); restore the
checkpoint and start the data at its step; `fit` with our checkpoint
callback, `TensorBoard` and the progress bar; save the final `.keras` model.

Checkpoints (`kerasnlp_lite.training.checkpointing`): an *epoch* of `fit` is
`checkpoint_every` steps and a checkpoint is written at each epoch end,
crash-safely (temporary file, fsync, rename; a manifest with sha256 written
last; the previous checkpoint kept). It holds the weights, the dropout seed
state, the optimizer state, the step, the run's config and the tokenizer's
sha256. A resumed run verifies it (falling back to the previous one with a
warning), refuses a changed config field unless `force=True`, and starts the
data at the stored step (see `kerasnlp_lite.training.data`): a killed run
ends with exactly the weights of an uninterrupted one, dropout included.
A NaN or infinite loss, or non-finite weights at a checkpoint, raise
`TrainingDivergedError` before anything is written from them.

The saved `model.keras` carries its tokenizer in a preprocessor
(`CausalLMPreprocessor` / `MaskedLMPreprocessor`), so it takes strings
(`generate`) and exports with `tokenize` / `detokenize` signatures.
"""

import dataclasses
import json
import math
import os

import keras

from kerasnlp_lite.models import (
    BertBackbone,
    BertPretrainer,
    CausalLM,
    CausalLMPreprocessor,
    GPTBackbone,
    MaskedLMPreprocessor,
)
from kerasnlp_lite.training import data as data_lib
from kerasnlp_lite.training._keras_compat import multi_worker_fit_workaround
from kerasnlp_lite.training.callbacks import StopAtStep, StopOnNonFiniteLoss, TrainingCheckpoint, restore_state
from kerasnlp_lite.training.checkpointing import remove_checkpoints, write_durable
from kerasnlp_lite.training.optimizers import DECAYS, create_optimizer
from kerasnlp_lite.training.resume import backup_dir, checkpoint_metadata, resume_checkpoint
from kerasnlp_lite.training.strategy import STRATEGY_KINDS, get_strategy, is_chief, task_id
from kerasnlp_lite.utils.validation import is_int, is_number

DTYPES = ("float32", "mixed_bfloat16", "mixed_float16")
MODEL_FAMILIES = {"gpt": GPTBackbone, "bert": BertBackbone}
# Derived defaults (when `checkpoint_every` / `warmup_steps` are None): a checkpoint every
# min(100, steps) steps, rounded down to whole compiled calls; warmup over the first tenth of the
# run, at most 50 steps. `kerasnlp_lite.cli` repeats these formulas in `train --help`.
MAX_CHECKPOINT_EVERY = 100
MAX_WARMUP_STEPS = 50
WARMUP_FRACTION = 10  # warmup = steps // WARMUP_FRACTION, capped


def default_checkpoint_every(steps, steps_per_execution=1):
    """min(100, steps) rounded down to a multiple of `steps_per_execution` (at least one call)."""
    return max(steps_per_execution, min(MAX_CHECKPOINT_EVERY, steps) // steps_per_execution * steps_per_execution)


def default_warmup_steps(steps):
    """min(50, steps // 10): 0 for runs under 10 steps."""
    return min(MAX_WARMUP_STEPS, steps // WARMUP_FRACTION)


def model_family(preset):
    """"gpt" (causal LM) or "bert" (masked LM) for a preset name."""
    for family, backbone in MODEL_FAMILIES.items():
        if preset in backbone.PRESETS:
            return family
    names = sorted(n for b in MODEL_FAMILIES.values() for n in b.PRESETS)
    raise ValueError(f"Unknown model preset {preset!r}; available: {names}.")


@dataclasses.dataclass
class TrainConfig:
    """The experiment (kept apart from the model's own config, which is its preset).

    Attributes:
        model: a GPT preset (causal LM) or a BERT preset (masked LM, no NSP).
        data: "builtin", the stdlib-docstring corpus with a SentencePiece
            vocabulary trained on it (the only source so far).
        steps: optimizer steps of the whole run.
        global_batch_size: examples per step over all replicas and workers.
        sequence_length: tokens per example (also the model's position table).
        vocabulary_size: size of the built-in SentencePiece vocabulary.
        max_documents: built-in corpus documents used (vocabulary and blocks).
        learning_rate, warmup_steps, decay, end_learning_rate, weight_decay,
            global_clipnorm: the AdamW recipe (`create_optimizer`).
            `warmup_steps` None: `default_warmup_steps(steps)`, min(50, steps // 10).
        dropout: None keeps the preset's (0.1). Checkpoints hold the dropout seed
            state, so a resumed run matches an uninterrupted one either way; 0.0
            to match across strategies (replicas draw other masks).
        checkpoint_every: steps between checkpoints (one Keras epoch). Given,
            it must divide `steps`. None: `default_checkpoint_every`, min(100,
            steps) rounded down to a multiple of `steps_per_execution`; when
            that does not divide `steps`, the last epoch is shorter.
        steps_per_execution: train steps per `tf.function` call; must divide
            `steps` (and a given `checkpoint_every`).
        jit_compile: XLA-compile the train step (one replica, or a TPU).
        dtype: "float32", "mixed_bfloat16" (TPU, CPU) or "mixed_float16"
            (GPU; adds dynamic loss scaling).
        strategy, tpu: see `get_strategy`.
        seed: weights, example order and masking.
        out: run directory: `backup/` (checkpoints, deleted once the model is saved), `logs/` (TensorBoard),
            `model.keras`, `tokenizer.model`, `config.json`.
        verbose: 1 progress bar, 2 one line per epoch, 0 silent.
    """

    model: str = "gpt2_tiny"
    data: str = "builtin"
    steps: int = 500
    global_batch_size: int = 16
    sequence_length: int = 64
    vocabulary_size: int = 1000
    max_documents: int = 1500
    learning_rate: float = 1e-3
    warmup_steps: int = None
    decay: str = "cosine"
    end_learning_rate: float = 0.0
    weight_decay: float = 0.01
    global_clipnorm: float = 1.0
    dropout: float = None
    checkpoint_every: int = None
    steps_per_execution: int = 1
    jit_compile: bool = False
    dtype: str = "float32"
    strategy: str = "auto"
    tpu: str = None
    seed: int = 0
    out: str = "runs/default"
    verbose: int = 1

    def __post_init__(self):
        model_family(self.model)
        if self.data != "builtin":
            raise ValueError(f"`data` must be 'builtin', got {self.data!r}.")
        for name in ("steps", "global_batch_size", "sequence_length", "vocabulary_size", "max_documents",
                     "steps_per_execution"):
            _check_positive_int(self, name)
        if not is_number(self.learning_rate) or not 0 < self.learning_rate < math.inf:
            raise ValueError(f"`learning_rate` must be a positive finite float, got {self.learning_rate!r}.")
        if self.steps % self.steps_per_execution:
            raise ValueError(
                f"`steps`={self.steps} must be a multiple of `steps_per_execution`={self.steps_per_execution} "
                "(a compiled call runs that many steps)."
            )
        # None: derived from `steps` (see `default_checkpoint_every` / `default_warmup_steps`). A given
        # value is checked as given: the user asked for exactly that.
        if self.checkpoint_every is None:
            self.checkpoint_every = default_checkpoint_every(self.steps, self.steps_per_execution)
        else:
            _check_positive_int(self, "checkpoint_every")
            if self.steps % self.checkpoint_every:
                raise ValueError(
                    f"`steps`={self.steps} must be a multiple of `checkpoint_every`={self.checkpoint_every} "
                    f"(a checkpoint closes each Keras epoch): pass a divisor of {self.steps}, or leave "
                    "`checkpoint_every` out to use min(100, steps) with a shorter last interval."
                )
            if self.checkpoint_every % self.steps_per_execution:
                raise ValueError(
                    f"`checkpoint_every`={self.checkpoint_every} must be a multiple of "
                    f"`steps_per_execution`={self.steps_per_execution}."
                )
        if self.warmup_steps is None:
            self.warmup_steps = default_warmup_steps(self.steps)
        elif not is_int(self.warmup_steps) or not (
            0 <= self.warmup_steps < self.steps
        ):
            raise ValueError(
                f"Need an int 0 <= warmup_steps < steps, got warmup_steps={self.warmup_steps!r} and "
                f"steps={self.steps}; leave `warmup_steps` out to use min(50, steps // 10)."
            )
        if self.decay not in DECAYS:
            raise ValueError(f"`decay` must be one of {DECAYS}, got {self.decay!r}.")
        if self.dtype not in DTYPES:
            raise ValueError(f"`dtype` must be one of {DTYPES}, got {self.dtype!r}.")
        if self.strategy not in STRATEGY_KINDS:
            raise ValueError(f"`strategy` must be one of {STRATEGY_KINDS}, got {self.strategy!r}.")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {self.dropout!r}.")
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2, got {self.verbose!r}.")

    @classmethod
    def from_json(cls, path, **overrides):
        """Reads a small JSON file of fields; keyword arguments win over it."""
        with open(path) as f:
            values = json.load(f)
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"Unknown TrainConfig fields in {path}: {unknown}.")
        values.update(overrides)
        return cls(**values)

    @property
    def epochs(self):
        """Keras epochs of the run: one per checkpoint, the last one possibly shorter."""
        return math.ceil(self.steps / self.checkpoint_every)


def _check_positive_int(config, name):
    value = getattr(config, name)
    if not is_int(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    history: dict
    initial_step: int  # the step the run (re)started at: 0, or the restored checkpoint's
    strategy: object
    model_path: str  # None on non-chief workers


def _tokenizer(config, family):
    """The built-in vocabulary (tokenizer, task, proto bytes), trained once per run directory and reused on resume."""
    task = "causal_lm" if family == "gpt" else "masked_lm"
    path = os.path.join(config.out, "tokenizer.model")
    if os.path.exists(path):
        with open(path, "rb") as f:
            proto = f.read()
    else:
        proto = data_lib.train_builtin_tokenizer(task, config.vocabulary_size, config.max_documents)
        if is_chief():
            os.makedirs(config.out, exist_ok=True)
            write_durable(path, proto)
    return data_lib.load_tokenizer(proto), task, proto


def _save_model(model, path):
    # Through a temporary file and a rename, like the checkpoints: a kill during the save leaves the
    # previous model file whole. Keras wants the `.keras` suffix on the file it writes.
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp-{os.getpid()}.keras")
    model.save(temporary)
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    os.replace(temporary, path)


def build_preprocessor(config, tokenizer):
    """The preprocessor saved with the model: the tokenizer and the special ids of the built-in data.

    It frames text as `builtin_blocks` does (causal LM: tokens then `</s>`;
    masked LM: `[CLS] ... [SEP]`), so the saved model takes strings
    (`CausalLM.generate`, `fit` on texts) and exports with its tokenizer.
    """
    if model_family(config.model) == "gpt":
        return CausalLMPreprocessor(
            tokenizer, config.sequence_length, end_token_id=tokenizer.eos_token_id, pad_token_id=0
        )
    return MaskedLMPreprocessor(
        tokenizer,
        config.sequence_length,
        mask_token_id=tokenizer.token_to_id("[MASK]"),
        start_token_id=tokenizer.token_to_id("[CLS]"),
        end_token_id=tokenizer.token_to_id("[SEP]"),
        pad_token_id=0,
        seed=config.seed,
    )


def build_model(config, vocabulary_size, preprocessor=None):
    """The preset's backbone (vocabulary and length from the data) with its pretraining task."""
    family = model_family(config.model)
    overrides = {"vocabulary_size": vocabulary_size, "max_sequence_length": config.sequence_length}
    if config.dropout is not None:
        overrides["dropout"] = config.dropout
    if config.dtype != "float32":
        overrides["dtype"] = config.dtype
    backbone = MODEL_FAMILIES[family].from_preset(config.model, **overrides)
    if family == "gpt":
        return CausalLM(backbone, preprocessor=preprocessor)
    return BertPretrainer(backbone, next_sentence=False, preprocessor=preprocessor)


def _check_jit(config, strategy):
    import tensorflow as tf

    on_tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    if config.jit_compile and strategy.num_replicas_in_sync > 1 and not on_tpu and not tf.config.list_logical_devices("GPU"):
        # Measured with TF 2.20: XLA has no CPU implementation of the cross-replica collectives.
        raise ValueError(
            "jit_compile=True needs one replica on CPU (XLA CPU collectives are not implemented); got "
            f"{strategy.num_replicas_in_sync} replicas."
        )


def train(config, strategy=None, callbacks=(), force=False):
    """Trains `config.model` on `config.data` for `config.steps` steps; resumes from `config.out`.

    Args:
        config: a `TrainConfig`.
        strategy: a `tf.distribute.Strategy` (default: `get_strategy(config.strategy, config.tpu)`).
        callbacks: extra Keras callbacks (they run after the checkpoint of each epoch is written).
        force: resume a checkpoint of a run whose config differs in fields outside
            `kerasnlp_lite.training.resume.RESUME_MAY_CHANGE` (warns, naming them).

    Returns:
        A `TrainResult`.

    Raises:
        CheckpointError: before training, when `out` holds checkpoints but none
            usable, or one of a run with other settings (see `resume_checkpoint`).
        TrainingDivergedError: the loss or the weights became non-finite; no
            checkpoint or model was written from them, earlier ones are intact.
    """
    strategy = strategy or get_strategy(config.strategy, config.tpu)
    _check_jit(config, strategy)
    family = model_family(config.model)
    chief = is_chief()
    tokenizer, task, proto = _tokenizer(config, family)
    checkpoint, arrays = resume_checkpoint(config, proto, force)  # before anything of this run is written
    if chief:
        write_durable(os.path.join(config.out, "config.json"), json.dumps(dataclasses.asdict(config), indent=2).encode())
    blocks = data_lib.builtin_blocks(task, tokenizer, config.sequence_length, config.max_documents)

    # Same seed on every worker: same initial weights (MultiWorkerMirroredStrategy also
    # broadcasts worker 0's initial values) and the same example order.
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        model = build_model(config, tokenizer.vocabulary_size, build_preprocessor(config, tokenizer))
        optimizer = create_optimizer(
            model, config.learning_rate, config.steps, config.warmup_steps, config.decay,
            end_learning_rate=config.end_learning_rate, weight_decay=config.weight_decay,
            global_clipnorm=config.global_clipnorm, loss_scale=config.dtype == "mixed_float16",
        )
        model.compile(optimizer=optimizer, steps_per_execution=config.steps_per_execution, jit_compile=config.jit_compile)
        start_step = 0
        if checkpoint is not None:
            restore_state(model, arrays, [v["name"] for v in checkpoint.manifest["variables"]], checkpoint.path)
            start_step = checkpoint.step
            del arrays

    masking = {}
    if task == "masked_lm":
        masking = dict(
            vocabulary_size=tokenizer.vocabulary_size,
            mask_token_id=tokenizer.token_to_id("[MASK]"),
            unselectable_ids=(0, tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")),
        )
    dataset = data_lib.training_dataset(
        blocks, task, config.global_batch_size, config.steps, start_step=start_step, seed=config.seed, **masking
    )
    log_dir = os.path.join(config.out, "logs" if chief else f"logs/worker_{task_id()}")
    saver = TrainingCheckpoint(backup_dir(config), checkpoint_metadata(config, proto), start_step)
    all_callbacks = [
        StopOnNonFiniteLoss(start_step, saver.describe_last),
        saver,  # before the user's callbacks: they see this epoch's checkpoint on disk
        keras.callbacks.TensorBoard(log_dir, update_freq=config.steps_per_execution),
        StopAtStep(config.steps, start_step),
        *callbacks,
    ]
    history = {}
    if start_step < config.steps:  # a run killed after its last checkpoint only saves the model
        # Epochs of `checkpoint_every` steps from the restored step (the last one possibly shorter).
        initial_epoch = start_step // config.checkpoint_every
        epochs = initial_epoch + math.ceil((config.steps - start_step) / config.checkpoint_every)
        with multi_worker_fit_workaround(model, strategy):
            history = model.fit(
                dataset,
                epochs=epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=config.checkpoint_every,
                callbacks=all_callbacks,
                shuffle=False,  # the pipeline fixes the order itself (resumable)
                verbose=config.verbose if chief else 0,
            ).history
    model_path = None
    if chief:
        model_path = os.path.join(config.out, "model.keras")
        _save_model(model, model_path)
    # Like BackupAndRestore: a finished run needs no checkpoint (its model is saved). A kill
    # before this line leaves the last one, and a rerun just saves the model again.
    remove_checkpoints(backup_dir(config))
    return TrainResult(model, history, start_step, strategy, model_path)
