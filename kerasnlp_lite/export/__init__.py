"""SavedModel and TFLite export, op checks and the on-device runner."""

from kerasnlp_lite.export.tflite import (
    FlexOpError,
    convert_keras_model,
    convert_in_subprocess,
    run_tflite,
    tflite_op_names,
)
