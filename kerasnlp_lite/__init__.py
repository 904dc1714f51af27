"""kerasnlp_lite: NLP building blocks for Keras 3, from word2vec to T5, that ship to phones via TFLite.

Subpackages are imported on first use (`kerasnlp_lite.models`, `.checkpoints`,
`.training`, ...), so `import kerasnlp_lite` stays cheap: the `kerasnlp-lite`
command answers `--help` without loading TensorFlow.

Saved files still open with plain `keras.saving.load_model` after `import
kerasnlp_lite`: every serializable class of the library is registered with
Keras as soon as Keras itself is imported (or at once, if it already is), by
`_registration_hook` below. Keras only imports the modules of its own packages
when it deserializes, so it cannot find our classes by itself.
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_SUBPACKAGES = (
    "checkpoints", "data", "export", "generation", "heads", "layers", "models", "saving", "tokenizers", "training",
    "utils",
)


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"kerasnlp_lite.{name}")
    raise AttributeError(f"module 'kerasnlp_lite' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBPACKAGES))


def _initializing(name):
    module = sys.modules.get(name)
    return module is None or getattr(getattr(module, "__spec__", None), "_initializing", False)


class _RegistrationHook(importlib.abc.MetaPathFinder):
    """Registers the library's Keras classes once `keras` and every module of ours being imported are complete.

    It wraps the loader of `keras` and of our own submodules: after each one
    finishes executing, registration runs if Keras is fully imported and no
    module of ours is half-initialized (registering then would import our
    subpackages in a circle). Then the hook removes itself.
    """

    done = False

    def find_spec(self, fullname, path, target=None):
        if self.done or not (fullname == "keras" or fullname.startswith("kerasnlp_lite.")):
            return None
        sys.meta_path.remove(self)  # let the other finders find the real spec
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            self.maybe_register(finished=fullname)  # its `_initializing` flag is cleared only after this returns

        loader.exec_module = exec_then_register
        return spec

    def maybe_register(self, finished=None):
        def busy(name):
            return name != finished and _initializing(name)

        if self.done or busy("keras"):
            return
        if any(name.startswith("kerasnlp_lite.") and busy(name) for name in list(sys.modules)):
            return
        self.done = True
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        from kerasnlp_lite.saving import register_all

        register_all()


_registration_hook = _RegistrationHook()
if "keras" in sys.modules:
    # Keras is already there: register now (importing our subpackages from here is no cycle).
    _registration_hook.maybe_register()
else:
    sys.meta_path.insert(0, _registration_hook)
