"""Tasks: a backbone plus a head, as one functional model, optionally carrying its preprocessor."""

import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.models.backbone import check_input_keys


class Task(keras.Model):
    """Base of task models (`BertPretrainer`, `TextClassifier`, ...).

    A task is a functional model over its backbone's inputs (plus any extra
    inputs its head needs). With a `preprocessor` (a callable layer turning a
    batch of strings into the backbone's input dict, e.g. a
    `TextPreprocessor` holding a tokenizer and a packer), `predict` also takes
    raw strings: `classifier.predict(["some text"])`.
    """

    def __init__(self, *args, backbone=None, preprocessor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.backbone = backbone
        self.preprocessor = preprocessor

    def call(self, inputs, training=None, mask=None):
        check_input_keys(self, inputs)
        return super().call(inputs, training=training, mask=mask)

    def predict(self, x, batch_size=32, **kwargs):
        if _is_text(x):
            if self.preprocessor is None:
                raise ValueError(
                    f"{type(self).__name__} got strings but has no `preprocessor`; pass one when building the task "
                    "or call it on token ids."
                )
            texts = [x] if isinstance(x, (str, bytes)) else list(np.asarray(x, dtype=object).tolist())
            return super().predict(self.preprocess(texts), batch_size=batch_size, **kwargs)
        return super().predict(x, batch_size=batch_size, **kwargs)

    def preprocess(self, texts):
        """Runs the preprocessor on a list of strings; warns if the packer truncated any example."""
        inputs = dict(self.preprocessor(tf.constant(texts)))
        truncated = np.asarray(inputs.pop("num_truncated", np.zeros(len(texts))))
        if np.any(truncated > 0):
            warnings.warn(
                f"{int(np.sum(truncated > 0))} of {len(texts)} texts were truncated to fit the packer's "
                f"sequence_length (up to {int(truncated.max())} tokens dropped); use a longer sequence_length "
                "to keep them whole.",
                stacklevel=3,
            )
        return {name: np.asarray(value) for name, value in inputs.items()}

    def compile_from_config(self, config):
        """Restores `compile()` when a saved task is loaded.

        Tasks override `compile` to fill in their default losses and metrics;
        Keras then skips re-compiling on load (with a warning) unless the model
        says how. The saved config holds the arguments `keras.Model.compile`
        received (defaults already filled in), so passing them back to our
        `compile` rebuilds the same losses, metrics and optimizer.
        """
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)  # so saved optimizer variables can load

    def task_config(self):
        """Arguments of the subclass's constructor other than the backbone and preprocessor."""
        return {}

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config["backbone"] = keras.saving.serialize_keras_object(self.backbone)
        config["preprocessor"] = (
            keras.saving.serialize_keras_object(self.preprocessor) if self.preprocessor is not None else None
        )
        config.update(self.task_config())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return cls(**config)


class PaddedTokenLossMixin:
    """Token-level training defaults for the language-model tasks (`CausalLM`, `Seq2SeqLM`).

    `compile()` defaults to sparse cross-entropy from logits averaged over
    real tokens only (sum(w * CE) / sum(w), not / (B * T)) and a perplexity
    metric. Without a `sample_weight`, the inputs' `PADDING_MASK_KEY` mask
    weights the positions, so padding never counts.
    """

    PADDING_MASK_KEY = "padding_mask"

    def compile(self, optimizer="adam", loss=None, weighted_metrics=None, **kwargs):
        from kerasnlp_lite.models.perplexity import Perplexity

        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
        if weighted_metrics is None:
            weighted_metrics = [Perplexity()]
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs)

    def _padding_weights(self, x, sample_weight):
        if sample_weight is None and isinstance(x, dict) and self.PADDING_MASK_KEY in x:
            return keras.ops.cast(x[self.PADDING_MASK_KEY], "float32")
        return sample_weight

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, y, y_pred, self._padding_weights(x, sample_weight), training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, y_pred, self._padding_weights(x, sample_weight))


def _is_text(x):
    if isinstance(x, str):
        return True
    if isinstance(x, (list, tuple)) and x and all(isinstance(item, (str, bytes)) for item in x):
        return True
    if isinstance(x, np.ndarray) and x.dtype.kind in "USO":
        return True
    return isinstance(x, tf.Tensor) and x.dtype == tf.string


def freeze(model, up_to=None):
    """Freezes a task's backbone, wholly or up to a layer, for feature-based transfer.

    Devlin et al. (2019, section 5.3) compare fine-tuning everything with the
    "feature-based" mode, where the pretrained encoder stays fixed. Call
    `compile` again afterwards (Keras reads `trainable` at compile time).

    Args:
        model: a `Task` (or a `Backbone`).
        up_to: None freezes the whole backbone; an int k freezes the
            embeddings and the first k encoder blocks; a string freezes the
            backbone's layers up to and including the layer of that name.

    Returns:
        The names of the frozen layers.
    """
    backbone = model.backbone if isinstance(model, Task) else model
    layers = [layer for layer in backbone.layers if layer.weights]
    if up_to is None:
        chosen = layers
    elif isinstance(up_to, bool) or not isinstance(up_to, (int, str)):
        raise TypeError(f"`up_to` must be None, an int or a layer name, got {up_to!r}.")
    elif isinstance(up_to, int):
        blocks = list(getattr(backbone, "encoder_blocks", []))
        if not 0 <= up_to <= len(blocks):
            raise ValueError(f"`up_to` must be in [0, {len(blocks)}] (the number of encoder blocks), got {up_to}.")
        frozen_blocks = {id(block) for block in blocks[:up_to]}
        chosen = [backbone.embedding] + [layer for layer in layers if id(layer) in frozen_blocks]
    else:
        names = [layer.name for layer in layers]
        if up_to not in names:
            raise ValueError(f"`up_to`={up_to!r} is not a layer with weights of the backbone; layers: {names}.")
        chosen = layers[: names.index(up_to) + 1]
    for layer in chosen:
        layer.trainable = False
    return [layer.name for layer in chosen]
