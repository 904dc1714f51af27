"""Bad input to the export helpers fails with a message naming the argument (issue #17). No conversion."""

import numpy as np
import pytest

from kerasnlp_lite import export


@pytest.mark.parametrize("content", [b"not a flatbuffer at all", b"garbage", b""])
def test_tflite_helpers_reject_bytes_that_are_not_tflite(content):
    with pytest.raises(ValueError, match="`model_content` is not a TFLite file"):
        export.tflite_op_names(content)
    with pytest.raises(ValueError, match="`model_content` is not a TFLite file"):
        export.run_tflite(content, {"x": np.zeros(1)})


def test_tflite_helpers_reject_a_path_string():
    with pytest.raises(TypeError, match="`model_content` must be the bytes of a .tflite file, got str"):
        export.tflite_op_names("model.tflite")


class _CausalBundle:
    """What `LiteRunner.signatures` reports for a causal LM bundle (its `generate` has no encoder input)."""

    signatures = {
        "generate": {"inputs": {"token_ids": {"shape": [1, 8], "dtype": "int32"}}, "outputs": {}},
        "prefill": {"inputs": {}, "outputs": {}},
    }


def test_run_seq2seq_generate_rejects_a_causal_lm_bundle():
    with pytest.raises(ValueError, match=r"`runner` must hold a seq2seq bundle.*causal LM bundle"):
        export.run_seq2seq_generate(_CausalBundle(), [5, 6], 3)
