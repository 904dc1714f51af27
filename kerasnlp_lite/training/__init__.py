"""Training under `tf.distribute`: strategies, AdamW schedules, the `fit`-based entry point."""

from kerasnlp_lite.training.callbacks import TrainingDivergedError
from kerasnlp_lite.training.checkpointing import CheckpointError, CheckpointWarning
from kerasnlp_lite.training.optimizers import AdamW, WarmupDecay, create_optimizer, no_weight_decay_variables
from kerasnlp_lite.training.resume import check_resumable, restored_step
from kerasnlp_lite.training.strategy import STRATEGY_KINDS, configure_logical_cpus, get_strategy
from kerasnlp_lite.training.trainer import TrainConfig, TrainResult, build_model, train
