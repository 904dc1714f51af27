"""The base class of all backbones: a functional `keras.Model` with presets and a flat config."""

import copy

import keras


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


class Backbone(keras.Model):
    """A functional model built in `__init__` from named arguments.

    Subclasses build their layers and graph, call `super().__init__(inputs,
    outputs, ...)`, then `set_config(...)` with every constructor argument
    (kept as attributes and in `get_config()`), so `from_config(get_config())` rebuilds the same
    architecture and `.keras` files load in safe mode.

    `PRESETS` maps a preset name to constructor arguments: local dicts, no
    download. `from_preset(name, **overrides)` builds one (random weights).
    """

    PRESETS = {}

    def __init__(self, *args, dtype=None, **kwargs):
        super().__init__(*args, dtype=dtype, **kwargs)

    def call(self, inputs, training=None, mask=None):
        check_input_keys(self, inputs)
        return super().call(inputs, training=training, mask=mask)

    @classmethod
    def presets(cls):
        """Names of the presets of this class."""
        return sorted(cls.PRESETS)

    @classmethod
    def from_preset(cls, preset, **overrides):
        """Builds the named preset (random weights); keyword arguments override it."""
        if preset not in cls.PRESETS:
            raise ValueError(f"Unknown preset {preset!r} for {cls.__name__}; available: {cls.presets()}.")
        kwargs = copy.deepcopy(cls.PRESETS[preset])
        kwargs.update(overrides)
        return cls(**kwargs)

    def set_config(self, **arguments):
        """Stores the constructor arguments as attributes and as the config."""
        for key, value in arguments.items():
            setattr(self, key, value)
        self._config_arguments = list(arguments)

    def get_config(self):
        # Only the constructor arguments: the graph is rebuilt by __init__.
        config = {"name": self.name, "trainable": self.trainable, "dtype": keras.dtype_policies.serialize(self.dtype_policy)}
        config.update({key: getattr(self, key) for key in getattr(self, "_config_arguments", [])})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
