"""AdamW with linear warmup and linear or cosine decay, BERT's weight-decay exclusions, clipping."""

import math

import keras
import tensorflow as tf
from keras import ops

from kerasnlp_lite.utils.validation import is_number

DECAYS = ("linear", "cosine")


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak_learning_rate`, then linear or cosine decay.

    lr(t) = peak * t / warmup                                  for t < warmup
    lr(t) = end + (peak - end) * (1 - p)                       linear,  p = (t - warmup) / decay_steps
    lr(t) = end + (peak - end) * (1 + cos(pi * p)) / 2         cosine
    and `end_learning_rate` once p >= 1. BERT (Devlin et al. 2019, A.2):
    warmup over 10k steps then linear decay; GPT-2 / nanoGPT: cosine decay.
    The step is a tensor and every branch is a `where`, so the schedule
    traces into an XLA/TPU step with no Python control flow on it.

    Args:
        peak_learning_rate: learning rate at the end of warmup.
        warmup_steps: steps of the warmup (0: start at the peak).
        decay_steps: steps of the decay after warmup.
        decay: "linear" or "cosine".
        end_learning_rate: final learning rate.
    """

    def __init__(self, peak_learning_rate, warmup_steps, decay_steps, decay="linear", end_learning_rate=0.0):
        if decay not in DECAYS:
            raise ValueError(f"`decay` must be one of {DECAYS}, got {decay!r}.")
        if not peak_learning_rate > 0 or end_learning_rate < 0 or end_learning_rate > peak_learning_rate:
            raise ValueError(
                f"Need 0 <= end_learning_rate <= peak_learning_rate and a positive peak, got "
                f"peak={peak_learning_rate}, end={end_learning_rate}."
            )
        if int(warmup_steps) != warmup_steps or warmup_steps < 0:
            raise ValueError(f"`warmup_steps` must be an int >= 0, got {warmup_steps!r}.")
        if int(decay_steps) != decay_steps or decay_steps < 1:
            raise ValueError(f"`decay_steps` must be an int >= 1, got {decay_steps!r}.")
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = int(decay_steps)
        self.decay = decay
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak, end = self.peak_learning_rate, self.end_learning_rate
        warmup = peak * step / max(self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / self.decay_steps, 0.0, 1.0)
        if self.decay == "linear":
            fraction = 1.0 - progress
        else:
            fraction = 0.5 * (1.0 + ops.cos(math.pi * progress))
        decayed = end + (peak - end) * fraction
        return ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "decay": self.decay,
            "end_learning_rate": self.end_learning_rate,
        }


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class AdamW(keras.optimizers.AdamW):
    """Keras' AdamW, with gradient clipping after the cross-replica sum.

    Keras 3 (checked on 3.15.1, TensorFlow backend) clips in `apply` before
    `_backend_update_step` sums the gradients over replicas, so under
    `MirroredStrategy` / `MultiWorkerMirroredStrategy` each replica's partial
    gradient is clipped by its *own* norm: the update differs from the
    one-device update as soon as clipping is active (measured: losses 1.6e-3
    apart after 5 steps of a tiny GPT on two logical CPUs, versus 5e-7 here).
    tf.keras 2 refused clipping under a strategy for this reason
    (tensorflow/tensorflow#33929: "before gradients get aggregated (usually
    wrong)"). Here, with more than one replica, clipping is deferred to after
    the sum, as `tf.clip_by_global_norm` on the global-batch gradient. With one
    replica, or another backend, it is Keras' AdamW unchanged.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kwargs):
        # Keras takes a negative rate or decay silently (training then ascends the loss).
        if is_number(learning_rate) and not (math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"`learning_rate` must be a finite number > 0 (or a schedule), got {learning_rate}.")
        if weight_decay is not None and not (is_number(weight_decay) and math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"`weight_decay` must be a finite number >= 0, got {weight_decay!r}.")
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)

    def _defer_clipping(self):
        return (
            keras.backend.backend() == "tensorflow"
            and (self.global_clipnorm is not None or self.clipnorm is not None or self.clipvalue is not None)
            and tf.distribute.has_strategy()
            and tf.distribute.in_cross_replica_context() is False
            and tf.distribute.get_strategy().num_replicas_in_sync > 1
        )

    def _clip_gradients(self, grads):
        if self._defer_clipping():
            return grads  # clipped in _backend_update_step, after the all-reduce
        return super()._clip_gradients(grads)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if not self._defer_clipping():
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        # As keras.src.backend.tensorflow.optimizer.TFOptimizer._backend_update_step, with the
        # clipping moved between the all-reduce and the update.
        variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
        reduced = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        clipped = super()._clip_gradients([g for g, _ in reduced])
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._distributed_tf_update_step,
            self._distribution_strategy,
            list(zip(clipped, [v for _, v in reduced])),
            learning_rate,
        )


def no_weight_decay_variables(model):
    """The variables BERT leaves out of weight decay: biases and LayerNorm scales/offsets.

    google-research/bert optimization.py excludes `["LayerNorm", "layer_norm",
    "bias"]`; here by layer type (every `LayerNormalization`, including the one
    inside the embedding layer) and by name (every variable whose name ends in
    "bias": Dense biases, attention `query_bias`..., the masked-LM
    `output_bias`). Embedding tables and kernels keep their decay.
    """
    excluded = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.LayerNormalization):
            for variable in layer.trainable_weights:
                excluded[id(variable)] = variable
    for variable in model.trainable_weights:
        if variable.name.endswith("bias"):
            excluded[id(variable)] = variable
    return list(excluded.values())


def create_optimizer(
    model,
    learning_rate,
    total_steps,
    warmup_steps=0,
    decay="linear",
    end_learning_rate=0.0,
    weight_decay=0.01,
    global_clipnorm=1.0,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-6,
    loss_scale=False,
):
    """`AdamW` on a `WarmupDecay` schedule, clipped by global norm, for a built `model`.

    Call it inside `strategy.scope()` after the model is built (its variables
    are needed to set the weight-decay exclusions before the optimizer builds).

    Args:
        model: the built model whose `no_weight_decay_variables` are excluded.
        learning_rate: peak learning rate.
        total_steps: optimizer steps of the run (warmup + decay).
        warmup_steps: linear warmup steps.
        decay: "linear" or "cosine".
        end_learning_rate: learning rate at `total_steps`.
        weight_decay: decoupled weight decay (Loshchilov and Hutter 2019).
        global_clipnorm: clip the gradients by their global norm (None: no clipping).
        beta_1, beta_2, epsilon: Adam's.
        loss_scale: wrap in `keras.optimizers.LossScaleOptimizer` (dynamic loss
            scaling, needed with `mixed_float16`; bf16 has float32's range and
            needs none).

    Returns:
        The optimizer.
    """
    if total_steps <= warmup_steps:
        raise ValueError(f"`total_steps`={total_steps} must exceed `warmup_steps`={warmup_steps}.")
    schedule = WarmupDecay(learning_rate, warmup_steps, total_steps - warmup_steps, decay, end_learning_rate)
    optimizer = AdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        global_clipnorm=global_clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_list=no_weight_decay_variables(model))
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
