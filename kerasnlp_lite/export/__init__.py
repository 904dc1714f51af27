"""SavedModel and TFLite export, op checks and the on-device runner."""

from kerasnlp_lite.export.tflite import (
    FlexOpError,
    convert_keras_model,
    convert_in_subprocess,
    run_tflite,
    tflite_op_names,
)
from kerasnlp_lite.export.generation import export_causal_lm
from kerasnlp_lite.export.seq2seq import export_seq2seq_lm, run_seq2seq_generate
from kerasnlp_lite.export.runner import LiteRunner
from kerasnlp_lite.export.api import (
    TFLiteExportReport,
    available_signatures,
    export_saved_model,
    export_tflite,
)
