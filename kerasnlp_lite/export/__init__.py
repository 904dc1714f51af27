"""SavedModel and TFLite export, op checks and the on-device runner.

Modules, by job (none imports another in a circle):

- `format`: the on-device contract: quantization modes, signature names, metadata.
- `encoder_archive`, `samples`: the encoder/classifier/embedder signatures and their sample inputs.
- `lm_bundle`, `seq2seq`, `bundle_signatures`: the generation bundles (`export_causal_lm`, `export_seq2seq_lm`).
- `litertlm`: a CausalLM as a `.litertlm` bundle for Google's LiteRT-LM runtime (`export_litertlm`).
- `tflite`: conversion (converter options, op lists, the child-process conversion).
- `verify`: the checks of a written file and `TFLiteExportReport`, the report every export returns.
- `runner`: `LiteRunner`, which runs a file as an app would; `latency`: decode timing with it.
- `api`: `export_tflite` and `export_saved_model`.

The names below load on first use, so `kerasnlp_lite.export.format` (used by the
`kerasnlp-lite` parser) imports without TensorFlow.
"""

import importlib

_PUBLIC = {
    "QUANTIZATION_MODES": "format",
    "FlexOpError": "tflite",
    "convert_keras_model": "tflite",
    "convert_in_subprocess": "tflite",
    "run_tflite": "tflite",
    "tflite_op_names": "tflite",
    "export_causal_lm": "lm_bundle",
    "export_seq2seq_lm": "seq2seq",
    "export_litertlm": "litertlm",
    "run_seq2seq_generate": "seq2seq",
    "LiteRunner": "runner",
    "TFLiteExportReport": "verify",
    "verify_tflite": "verify",
    "available_signatures": "encoder_archive",
    "export_saved_model": "api",
    "export_tflite": "api",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"kerasnlp_lite.export.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'kerasnlp_lite.export' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_PUBLIC))
