"""kerasnlp_lite: NLP building blocks for Keras 3, from word2vec to T5, that ship to phones via TFLite.

Subpackages (imported on first use, so `import kerasnlp_lite` stays cheap):
`layers`, `tokenizers`, `data`, `export`.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_SUBPACKAGES = ("layers", "tokenizers", "data", "export", "models", "utils")


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"kerasnlp_lite.{name}")
    raise AttributeError(f"module 'kerasnlp_lite' has no attribute {name!r}")
