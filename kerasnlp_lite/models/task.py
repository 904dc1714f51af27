"""Tasks: a backbone plus a head, as one functional model, optionally carrying its preprocessor."""

import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.models.backbone import check_input_keys, check_input_values, check_model_kwargs, input_id_ranges
from kerasnlp_lite.utils.validation import assert_ids_in_range, check_label_array, raise_input_error


class Task(keras.Model):
    """Base of task models (`BertPretrainer`, `TextClassifier`, ...).

    A task is a functional model over its backbone's inputs (plus any extra
    inputs its head needs). With a `preprocessor` (a callable layer turning a
    batch of strings into the backbone's input dict, e.g. a
    `TextPreprocessor` holding a tokenizer and a packer), `predict` also takes
    raw strings: `classifier.predict(["some text"])`.
    """

    def __init__(self, *args, backbone=None, preprocessor=None, **kwargs):
        check_model_kwargs(self, kwargs)
        super().__init__(*args, **kwargs)
        self.backbone = backbone
        self.preprocessor = preprocessor

    def call(self, inputs, training=None, mask=None):
        check_input_keys(self, inputs)
        check_input_values(self, inputs)
        return super().call(inputs, training=training, mask=mask)

    # --- bad numeric input at the entry points ------------------------------
    def label_range(self):
        """The exclusive upper bound of sparse integer labels `y` (class ids, next tokens); None: unchecked.

        `num_classes` when the task has one; language models return their vocabulary size.
        """
        return getattr(self, "num_classes", None)

    def _is_sparse_label(self, shape):
        """Whether labels of `shape` are class ids for this task's single output (not one-hot or a dict)."""
        output = self.output
        if self.label_range() is None or not hasattr(output, "shape") or shape is None:
            return False
        rank, out_rank = len(shape), len(output.shape)
        return rank == out_rank - 1 or (rank == out_rank and shape[-1] == 1 and output.shape[-1] != 1)

    def check_numeric_data(self, x, y=None):
        """Token-id data as given to `fit` / `evaluate` / `predict` -> the same data, checked.

        In-memory arrays are checked once here (one numpy pass) and raise
        TypeError (float ids) or ValueError (out of range) naming the input;
        a `tf.data.Dataset` gets an in-pipeline assertion per batch (outside
        the model's graph, so XLA, which drops asserts, still sees only
        checked data), which `run_checked` turns into a ValueError.
        """
        if isinstance(x, tf.data.Dataset):
            return x.map(self._assert_element), y
        check_input_values(self, x)
        if y is not None and not isinstance(y, (dict, tuple, list, tf.data.Dataset)):
            y_shape = np.shape(y)
            if self._is_sparse_label(y_shape):
                check_label_array(y, self.label_range(), "y")
        return x, y

    def _assert_element(self, *parts):
        x, rest = parts[0], list(parts[1:])
        if isinstance(x, dict):
            ranges = input_id_ranges(self)
            x = {k: assert_ids_in_range(v, ranges[k], k) if k in ranges else v for k, v in x.items()}
        if rest and tf.is_tensor(rest[0]) and self._is_sparse_label(tuple(rest[0].shape)):
            rest[0] = assert_ids_in_range(rest[0], self.label_range(), "y", integral_floats=True)
        return (x, *rest) if rest else x

    def _checked_validation(self, validation_data):
        if isinstance(validation_data, tf.data.Dataset):
            return self.check_numeric_data(validation_data)[0]
        if isinstance(validation_data, (tuple, list)) and validation_data:
            labels = validation_data[1] if len(validation_data) > 1 else None
            vx, vy = self.check_numeric_data(validation_data[0], labels)
            return (vx, vy, *validation_data[2:]) if len(validation_data) > 1 else (vx,)
        return validation_data

    @staticmethod
    def run_checked(run, *args, **kwargs):
        """Calls `run`; an in-pipeline input check's TF error becomes a ValueError with its message first."""
        try:
            return run(*args, **kwargs)
        except tf.errors.InvalidArgumentError as error:
            raise_input_error(error)

    # --- raw text in fit / evaluate / predict ------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, **kwargs):
        """`keras.Model.fit`, plus raw text through the `preprocessor` (see `kerasnlp_lite.models.text_inputs`).

        `x` may be strings (a list, numpy array or `tf.string` tensor, a tuple
        of two such batches for sentence pairs) with `y` / `sample_weight`
        beside them, or a `tf.data.Dataset` of strings, `(strings, labels)` or
        `(strings, labels, weights)`. Texts are tokenized and packed per batch
        inside `tf.data` (language models also make their targets there).
        """
        validation_batch_size = kwargs.pop("validation_batch_size", None)
        text_batch_size = batch_size
        text_inputs.check_not_empty(x)
        if text_inputs.contains_text(x):
            if validation_split:
                (x, y, sample_weight), validation_data = self._split_validation(x, y, sample_weight, validation_split)
            x = self._text_dataset(x, y, sample_weight, batch_size, shuffle=shuffle)
            y = sample_weight = batch_size = None
            validation_split, shuffle = 0.0, False  # shuffled above, before batching
        else:
            x, y = self.check_numeric_data(x, y)
        if validation_data is not None and text_inputs.contains_text(validation_data):
            if isinstance(validation_data, tf.data.Dataset):
                validation_data = self._text_dataset(validation_data, batch_size=validation_batch_size)
            else:
                validation_data = self._text_dataset(
                    *self._unpack_in_memory(validation_data), validation_batch_size or text_batch_size
                )
        elif validation_data is not None:
            validation_data = self._checked_validation(validation_data)
        return self.run_checked(
            super().fit,
            x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
            validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
            class_weight=class_weight, sample_weight=sample_weight, validation_batch_size=validation_batch_size,
            **kwargs,
        )

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, **kwargs):
        """`keras.Model.evaluate`, taking raw text like `fit`."""
        text_inputs.check_not_empty(x)
        if text_inputs.contains_text(x):
            x = self._text_dataset(x, y, sample_weight, batch_size)
            y = sample_weight = batch_size = None
        else:
            x, y = self.check_numeric_data(x, y)
        return self.run_checked(
            super().evaluate, x, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight, **kwargs
        )

    def predict(self, x, batch_size=None, **kwargs):
        """`keras.Model.predict`, taking raw text (strings, pairs, or a dataset of them)."""
        text_inputs.check_not_empty(x)
        if text_inputs.contains_text(x):
            self._require_preprocessor()
            if isinstance(x, tf.data.Dataset):
                x = text_inputs.preprocessed_dataset(self, x, batch_size, training=False)
                return super().predict(x, **kwargs)
            texts = text_inputs.check_text_inputs(x, "x")
            return super().predict(self.preprocess(texts), batch_size=batch_size or 32, **kwargs)
        x, _ = self.check_numeric_data(x)
        return self.run_checked(super().predict, x, batch_size=batch_size, **kwargs)

    def text_batch(self, x, y=None, sample_weight=None, seed=None):
        """One batch of text (tensors) -> `(x, y, sample_weight)` for this task, TF ops only.

        The preprocessor's `training_batch`; tasks adapt it (a classifier
        checks its labels, a pretrainer names its sentence target).
        """
        return self.preprocessor.training_batch(x, y, sample_weight, seed=seed)

    def check_text_targets(self, y, sample_weight, n):
        """Eager checks of in-memory targets beside n texts (subclasses check ranges)."""
        return text_inputs.check_aligned(y, n, "y"), text_inputs.check_aligned(sample_weight, n, "sample_weight")

    def _require_preprocessor(self):
        if self.preprocessor is None:
            raise ValueError(
                f"{type(self).__name__} got strings but has no `preprocessor`; pass one when building the task "
                "(e.g. `preprocessor=TextPreprocessor(tokenizer, packer)`), or call it on token ids."
            )

    def _unpack_in_memory(self, data):
        if isinstance(data, tuple) and len(data) in (2, 3) and not all(text_inputs.contains_text(v) for v in data):
            return tuple(data) + (None,) * (3 - len(data))
        return data, None, None

    def _text_dataset(self, x, y=None, sample_weight=None, batch_size=None, shuffle=False):
        self._require_preprocessor()
        if isinstance(x, tf.data.Dataset):
            if y is not None or sample_weight is not None:
                raise ValueError("With a dataset `x`, put the labels and weights in its elements, not in `y`.")
            return text_inputs.preprocessed_dataset(self, x, batch_size)
        x, y = self._text_xy(x, y)
        texts = text_inputs.check_text_inputs(x, "x")
        y, sample_weight = self.check_text_targets(y, sample_weight, text_inputs.num_examples(texts))
        truncated, longest = text_inputs.count_truncated(self.preprocessor, texts)
        if truncated:
            warnings.warn(
                f"{truncated} of {text_inputs.num_examples(texts)} texts are longer than the preprocessor's "
                f"sequence length and are truncated (up to {longest} tokens dropped); use a longer "
                "sequence_length to keep them whole.",
                stacklevel=4,
            )
        dataset = text_inputs.to_dataset(texts, y, sample_weight, batch_size, shuffle=shuffle)
        return text_inputs.preprocessed_dataset(self, dataset, batch_size)

    def _text_xy(self, x, y):
        """In-memory `(x, y)` as the task reads them (a seq2seq task takes target strings as `y`)."""
        return x, y

    def _split_validation(self, x, y, sample_weight, validation_split):
        if isinstance(x, tf.data.Dataset):
            raise ValueError("`validation_split` is not supported for datasets; pass `validation_data`.")
        if not 0 < validation_split < 1:
            raise ValueError(f"`validation_split` must be in (0, 1), got {validation_split}.")
        x, y = self._text_xy(x, y)
        texts = text_inputs.check_text_inputs(x, "x")
        n = text_inputs.num_examples(texts)
        split = int(n * (1 - validation_split))
        if not 0 < split < n:
            raise ValueError(f"`validation_split`={validation_split} leaves no training or no validation text of {n}.")
        y, sample_weight = self.check_text_targets(y, sample_weight, n)

        def part(value, rows):
            if value is None:
                return None
            if isinstance(value, tuple):
                return tuple(v[rows] for v in value)
            if isinstance(value, dict):
                return {k: v[rows] for k, v in value.items()}
            return value[rows]

        head, tail = slice(0, split), slice(split, n)
        train = (part(texts, head), part(y, head), part(sample_weight, head))
        return train, (part(texts, tail), part(y, tail), part(sample_weight, tail))

    def preprocess(self, texts):
        """Runs the preprocessor's `features` on a batch of strings; warns if the packer truncated any example."""
        self._require_preprocessor()
        texts = text_inputs.check_text_inputs(texts, "texts")
        if isinstance(texts, tuple):
            batch = tuple(tf.constant(t.tolist()) for t in texts)
        else:
            batch = tf.constant(texts.tolist())
        inputs = dict(self.preprocessor.features(batch))
        n = text_inputs.num_examples(texts)
        truncated = np.asarray(inputs.pop("num_truncated", np.zeros(n)))
        if np.any(truncated > 0):
            warnings.warn(
                f"{int(np.sum(truncated > 0))} of {n} texts were truncated to fit the packer's "
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

    # --- preset folders (KerasHub-style; see `kerasnlp_lite.models.preset_io`) ---
    @classmethod
    def from_preset(cls, preset_dir, **kwargs):
        """Loads the task saved in `preset_dir`, or builds this task class around the backbone saved there.

        `TextClassifier.from_preset(d)` restores a saved classifier (weights
        and preprocessor); on a backbone-only preset (or one of another
        task) it builds `TextClassifier(backbone, **kwargs)`, e.g. with
        `num_classes=3`. `Task.from_preset(d)` loads whatever task `d` holds.
        """
        from kerasnlp_lite.models import preset_io

        return preset_io.load_task(preset_dir, cls, **kwargs)

    def save_to_preset(self, preset_dir):
        """Writes the task, its backbone, preprocessor and tokenizer (with vocabulary files) to `preset_dir`."""
        from kerasnlp_lite.models import preset_io

        preset_io.save_to_preset(self, preset_dir)


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
