"""kerasnlp_lite: NLP building blocks for Keras 3, from word2vec to T5, that ship to phones via TFLite."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from kerasnlp_lite import layers  # noqa: E402,F401

__version__ = "0.1.0"
