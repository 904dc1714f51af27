"""The base class of all backbones: a functional `keras.Model` with presets and a flat config; LoRA."""

import copy
import os

import keras
from keras import ops

from kerasnlp_lite.layers.feed_forward import FeedForward
from kerasnlp_lite.layers.multi_head_attention import LORA_KERNELS, MultiHeadAttention, check_lora_arguments
from kerasnlp_lite.utils.validation import check_id_array, is_concrete, is_int

LORA_CONFIG_KEYS = ("lora_rank", "lora_alpha")


def check_input_keys(model, inputs):
    """Keras maps a dict with extra keys onto inputs by sorted position, silently: refuse it."""
    if isinstance(inputs, dict) and isinstance(model.input, dict):
        unknown = sorted(set(inputs) - set(model.input))
        missing = sorted(set(model.input) - set(inputs))
        if unknown or missing:
            raise ValueError(
                f"{type(model).__name__} takes inputs {sorted(model.input)}; "
                + (f"unknown: {unknown}" if unknown else "")
                + ("; " if unknown and missing else "")
                + (f"missing: {missing}" if missing else "")
                + "."
            )


# What a functional `keras.Model.__init__` reads; it silently drops anything else.
FUNCTIONAL_KWARGS = ("inputs", "outputs", "name", "trainable")


def check_model_kwargs(model, kwargs, allowed=FUNCTIONAL_KWARGS, extra=""):
    """TypeError naming keyword arguments that the functional `Model.__init__` would silently ignore.

    `BartDenoiser(bb, eos_id=2)` must fail, not build a model without the
    setting. `from_config` and `.keras` loading pass only `name`,
    `trainable` (and `dtype`, a named argument of `Backbone`), so loading is
    unaffected.
    """
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(
            f"{type(model).__name__} got unexpected keyword argument(s) {unknown}; besides its own arguments it "
            f"takes only {sorted(set(allowed) - {'inputs', 'outputs'})}{extra}."
        )


def input_id_ranges(model):
    """`{input name: exclusive upper bound}` for the id inputs of a backbone or task (those it has)."""
    backbone = getattr(model, "backbone", None) or model
    vocabulary_size = getattr(backbone, "vocabulary_size", None)
    sizes = {
        "token_ids": vocabulary_size,
        "segment_ids": getattr(backbone, "num_segments", None),
        "encoder_token_ids": vocabulary_size,
        "decoder_token_ids": getattr(backbone, "decoder_vocabulary_size", None),
    }
    names = model.input.keys() if isinstance(getattr(model, "input", None), dict) else ()
    return {name: sizes[name] for name in names if is_int(sizes.get(name)) and sizes[name] > 0}


def check_input_values(model, inputs):
    """Concrete id inputs (numpy, lists, eager tensors) of `model`: integer dtype and in range.

    Symbolic and graph inputs are skipped here: the entry points
    (`Task.fit` / `evaluate` / `predict`) check in-memory data before Keras
    builds a graph, and add an in-pipeline assertion to a `tf.data` input.
    """
    if not isinstance(inputs, dict):
        return
    for name, size in input_id_ranges(model).items():
        if name in inputs and is_concrete(inputs[name]):
            check_id_array(inputs[name], size, name)


class Backbone(keras.Model):
    """A functional model built in `__init__` from named arguments.

    Subclasses build their layers and graph, call `super().__init__(inputs,
    outputs, ...)`, then `set_config(...)` with every constructor argument
    (kept as attributes and in `get_config()`), so `from_config(get_config())` rebuilds the same
    architecture and `.keras` files load in safe mode.

    `PRESETS` maps a preset name to constructor arguments: local dicts, no
    download. `from_preset(name, **overrides)` builds one (random weights).

    `enable_lora(rank)` turns the backbone into a LoRA fine-tuning target;
    `merge_lora(model)` (this module) folds the update into plain weights.
    """

    PRESETS = {}

    def __init__(self, *args, dtype=None, **kwargs):
        check_model_kwargs(self, kwargs, extra=" and `dtype`")
        super().__init__(*args, dtype=dtype, **kwargs)

    def call(self, inputs, training=None, mask=None):
        check_input_keys(self, inputs)
        check_input_values(self, inputs)
        return super().call(inputs, training=training, mask=mask)

    def predict(self, x, batch_size=None, **kwargs):
        """`keras.Model.predict`, with in-memory id inputs checked first (one numpy pass).

        In the compiled predict step a bad id would fail deep in a gather, or
        (under XLA) read a NaN row; here it is a ValueError naming the input.
        """
        check_input_keys(self, x)
        check_input_values(self, x)
        return super().predict(x, batch_size=batch_size, **kwargs)

    @classmethod
    def presets(cls):
        """Names of the presets of this class."""
        return sorted(cls.PRESETS)

    @classmethod
    def from_preset(cls, preset, **overrides):
        """Builds the named preset (random weights), or loads a preset directory; keyword arguments override it.

        A name in `PRESETS` wins over a directory of the same name; a
        directory (see `kerasnlp_lite.models.preset_io`) gives the backbone
        saved there, weights included.
        """
        if preset not in cls.PRESETS and os.path.isdir(preset):
            from kerasnlp_lite.models import preset_io

            return preset_io.load_backbone(preset, cls, **overrides)
        if preset not in cls.PRESETS:
            raise ValueError(
                f"Unknown preset {preset!r} for {cls.__name__}; available: {cls.presets()} (or a preset directory)."
            )
        kwargs = copy.deepcopy(cls.PRESETS[preset])
        kwargs.update(overrides)
        return cls(**kwargs)

    def save_to_preset(self, preset_dir):
        """Writes config.json, model.weights.h5 and metadata.json to `preset_dir` (see `preset_io`)."""
        from kerasnlp_lite.models import preset_io

        preset_io.save_to_preset(self, preset_dir)

    def enable_lora(self, rank, lora_alpha=None):
        """Freezes the backbone and adds trainable low-rank updates (LoRA).

        LoRA (Hu et al. 2021, https://arxiv.org/abs/2106.09685): each chosen
        kernel W stays frozen and the layer computes with `W + (lora_alpha /
        rank) * A @ B`, A `[in, rank]` random, B `[rank, out]` zeros, so the
        model starts out unchanged and trains `rank * (in + out)` numbers per
        kernel instead of `in * out`. Here every attention projection (query,
        key, value, output of each `MultiHeadAttention`, self- and
        cross-attention) and both feed-forward kernels get an update; all
        other backbone weights (embeddings, biases, layer norms, position
        tables, pooler) are frozen. A task's head lives outside the backbone
        and keeps training, as in KerasHub's `Backbone.enable_lora`.

        Call it before `compile` (Keras collects the trainable variables when
        the optimizer is built). Setting `backbone.trainable = True` later
        unfreezes every weight again (Keras' setter sets all variables). The
        rank and alpha go into `get_config()`, so a saved model reloads with
        LoRA enabled and its A and B as trained.

        Args:
            rank: r, a positive int (4 to 16 is common).
            lora_alpha: scale numerator; the update is scaled by
                `lora_alpha / rank`. Defaults to `rank` (scale 1).

        Raises:
            ValueError: `rank` is not a positive int, LoRA is already enabled,
                or the backbone has no attention or feed-forward layers.

        Example:
        >>> backbone = BertBackbone.from_preset("bert_tiny_en_uncased")
        >>> classifier = TextClassifier(backbone, num_classes=2)
        >>> backbone.enable_lora(4)
        >>> classifier.compile(optimizer="adam")  # trains A, B and the head
        """
        check_lora_arguments(rank, lora_alpha)
        if getattr(self, "lora_rank", None) is not None:
            raise ValueError(
                f"LoRA is already enabled on {self.name!r} (rank {self.lora_rank}); it can be enabled once. "
                "Fold it into plain weights with `merge_lora(model)` and enable LoRA on the result."
            )
        targets = [
            layer
            for layer in self._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, (MultiHeadAttention, FeedForward))
        ]
        if not targets:
            raise ValueError(f"{type(self).__name__} has no attention or feed-forward layers to apply LoRA to.")
        enabled = [layer.name for layer in targets if layer.lora_enabled]
        if enabled:  # checked before anything is frozen, so a refusal changes nothing
            raise ValueError(f"LoRA is already enabled on layer(s) {enabled} of {self.name!r}; it can be enabled once.")
        # Undo any earlier `freeze` (the setter reaches every variable), then
        # freeze variable by variable: layers stay trainable, so the LoRA
        # variables added below are trainable while the rest is not.
        self.trainable = True
        for variable in self.weights:
            variable.trainable = False
        for layer in targets:
            layer.enable_lora(rank, lora_alpha)
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def set_config(self, **arguments):
        """Stores the constructor arguments as attributes and as the config."""
        for key, value in arguments.items():
            setattr(self, key, value)
        self._config_arguments = list(arguments)

    def get_config(self):
        # Only the constructor arguments: the graph is rebuilt by __init__.
        config = {"name": self.name, "trainable": self.trainable, "dtype": keras.dtype_policies.serialize(self._dtype_map())}
        config.update({key: getattr(self, key) for key in getattr(self, "_config_arguments", [])})
        if getattr(self, "lora_rank", None) is not None:
            config.update({key: getattr(self, key) for key in LORA_CONFIG_KEYS})
        return config

    def _dtype_map(self):
        """The backbone's dtype policy, or after `quantize` a `DTypePolicyMap` of every quantized layer's
        policy by path (KerasHub's scheme): every layer passes its `dtype_policy` to the layers it makes, so
        a backbone rebuilt from this config builds those layers quantized and loads their int8 weights."""
        if isinstance(self.dtype_policy, keras.dtype_policies.DTypePolicyMap):
            return self.dtype_policy
        policy_map = keras.dtype_policies.DTypePolicyMap(default_policy=self.dtype_policy)
        for layer in self._flatten_layers():
            if layer.quantization_mode is not None:
                policy_map[layer.path] = layer.dtype_policy
        return policy_map if len(policy_map) else self.dtype_policy

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        lora = {key: config.pop(key) for key in LORA_CONFIG_KEYS if key in config}
        backbone = cls(**config)
        if lora.get("lora_rank") is not None:
            # Creates A and B before `load_model` reads the weights into them.
            backbone.enable_lora(lora["lora_rank"], lora.get("lora_alpha"))
        return backbone


# --- LoRA: merging for export -------------------------------------------------
def _lora_layers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if getattr(layer, "lora_enabled", False) and not isinstance(layer, FeedForward)
    ]


def has_lora(model):
    """Whether any layer of `model` computes with a LoRA update."""
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`model` must be a Keras model or layer, got {type(model).__name__}.")
    return bool(_lora_layers(model))


def _lora_merges(layer):
    """`(list of (base kernel, merged value), list of LoRA variables)` of one LoRA layer."""
    if isinstance(layer, MultiHeadAttention):
        merges = [(getattr(layer, f"{name}_kernel"), layer.effective_kernel(name)) for name, _ in LORA_KERNELS]
        factors = [getattr(layer, f"{name}_lora_kernel_{part}") for name, _ in LORA_KERNELS for part in "ab"]
        return merges, factors
    if isinstance(layer, keras.layers.Dense) and not layer.quantization_mode:
        # Keras' own `Dense.kernel` expression, without its cast to the compute
        # dtype: merged weights keep the variable dtype (float32 when mixed).
        delta = (layer.lora_alpha / layer.lora_rank) * ops.matmul(layer.lora_kernel_a, layer.lora_kernel_b)
        return [(layer._kernel, ops.add(layer._kernel, delta))], [layer.lora_kernel_a, layer.lora_kernel_b]
    raise TypeError(f"merge_lora does not know how to merge LoRA in layer {layer.name!r} ({type(layer).__name__}).")


def _without_lora(config):
    """A serialized config with every `lora_rank` / `lora_alpha` entry removed."""
    if isinstance(config, dict):
        return {key: _without_lora(value) for key, value in config.items() if key not in LORA_CONFIG_KEYS}
    if isinstance(config, (list, tuple)):
        return type(config)(_without_lora(value) for value in config)
    return config


def merge_lora(model):
    """A copy of `model` without LoRA whose kernels hold `kernel + (alpha / rank) * A @ B`.

    For export and serving: the copy has the same architecture, config and
    outputs (the merged value is the one the LoRA layers compute with, so
    the outputs agree to float rounding), but plain kernels and no A/B
    variables, and all its weights are trainable again. `export_tflite` and
    `export_causal_lm` call it on a LoRA model, so their files hold merged
    weights. `model` itself is not changed.

    Args:
        model: a backbone or task (any serializable model) with LoRA enabled.

    Returns:
        A new model of the same class.

    Raises:
        ValueError: `model` has no LoRA layer.
    """
    lora_layers = _lora_layers(model)
    if not lora_layers:
        raise ValueError(f"{model.name!r} has no LoRA-enabled layer to merge; call `backbone.enable_lora(rank)` first.")
    merged, factors = {}, set()
    for layer in lora_layers:
        pairs, variables = _lora_merges(layer)
        merged.update({id(kernel): value for kernel, value in pairs})
        factors.update(id(variable) for variable in variables)
    # Rebuild from the config without LoRA, then copy the weights in order:
    # the same constructor code creates the same variables in the same order,
    # and the LoRA factors (created last in their layers) are left out.
    plain = keras.saving.deserialize_keras_object(_without_lora(keras.saving.serialize_keras_object(model)))
    source = [variable for variable in model.weights if id(variable) not in factors]
    target = plain.weights
    if len(source) != len(target) or any(
        a.name != b.name or tuple(a.shape) != tuple(b.shape) for a, b in zip(source, target)
    ):
        raise RuntimeError(
            f"merge_lora: the rebuilt {type(model).__name__} does not have the variables of the original."
        )
    for variable, new in zip(source, target):
        new.assign(ops.cast(merged.get(id(variable), variable), new.dtype))
    return plain
