"""Bad input on device (issue #17 items 1 and 7) and the weights checksum of exported files.

One tiny generation bundle (GPT, 1 layer, SentencePiece tokenizer of 108
pieces, max_length 16), converted once for the module in a child process.
The checks live in `LiteRunner` (export/input_checks.py): the graph cannot
raise, and without them LiteRT reads a negative id as id V-1 (shown below on
the raw interpreter) or fails deep in a kernel.
"""

import os
import re

import keras
import numpy as np
import pytest

from kerasnlp_lite import export
from kerasnlp_lite.export.format import CHECKSUM_NAME, cache_names, stamp_checksum, weights_checksum
from kerasnlp_lite.export.lm_bundle import export_causal_lm
from kerasnlp_lite.export.runner import LiteRunner
from kerasnlp_lite.export.tflite import make_interpreter, write_conversion
from kerasnlp_lite.models.causal_lm import CausalLM
from kerasnlp_lite.models.gpt.gpt_backbone import GPTBackbone
from kerasnlp_lite.tokenizers import SentencePieceTokenizer

pytestmark = [pytest.mark.slow, pytest.mark.tflite]

SPIECE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "tiny_t5", "spiece.model")
L, MAX_TOP_K, SLOTS = 16, 8, 2


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """(path, LiteRunner, V) of the tiny bundle."""
    tokenizer = SentencePieceTokenizer(SPIECE)
    keras.utils.set_random_seed(0)
    backbone = GPTBackbone(
        vocabulary_size=tokenizer.vocabulary_size, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=L, dropout=0.0,
    )
    path = str(tmp_path_factory.mktemp("bad_input") / "tiny.tflite")
    export_causal_lm(CausalLM(backbone, preprocessor=tokenizer), path, max_length=L, max_top_k=MAX_TOP_K,
                     max_stop_tokens=SLOTS, check=False)
    return path, LiteRunner(path), tokenizer.vocabulary_size


def _prefill(runner, ids, length=None):
    padded = np.zeros((1, L), np.int32)
    padded[0, : len(ids)] = ids
    return runner.run("prefill", token_ids=padded, length=np.array([len(ids) if length is None else length], np.int32))


def _generate_inputs(**changes):
    inputs = dict(
        token_ids=np.array([[5, 6] + [0] * (L - 2)], np.int32), length=np.array([2], np.int32),
        max_new_tokens=np.array([4], np.int32), stop_token_ids=np.full((1, SLOTS), -1, np.int32),
        top_k=np.array([3], np.int32), temperature=np.array([1.0], np.float32), seed=np.array([1], np.int32),
    )
    inputs.update({name: np.asarray(value, inputs[name].dtype).reshape(inputs[name].shape)
                   for name, value in changes.items()})
    return inputs


def test_without_the_runner_checks_a_negative_id_gives_nan_not_id_v_minus_1(bundle):
    # The gather alone reads id -1 as id V-1 (no error); TokenEmbedding's in-graph guard turns the row
    # of an out-of-range id into NaN, so the raw interpreter's logits show it instead of another token's.
    path, _, vocabulary_size = bundle
    prefill = make_interpreter(model_path=path, tftext_ops=True).get_signature_runner("prefill")
    logits = {}
    for last in (-1, vocabulary_size - 1, 7):
        ids = np.zeros((1, L), np.int32)
        ids[0, :3] = [5, 6, last]
        logits[last] = prefill(token_ids=ids, length=np.array([3], np.int32))["logits"]
    assert np.isnan(logits[-1]).all()
    assert np.isfinite(logits[vocabulary_size - 1]).all() and np.isfinite(logits[7]).all()
    assert not np.array_equal(logits[7], logits[vocabulary_size - 1])


def test_token_ids_outside_the_vocabulary_are_refused(bundle):
    _, runner, vocabulary_size = bundle
    for bad in (-1, vocabulary_size, 2**31 - 1):
        pattern = rf"Input 'token_ids' of signature 'prefill' must hold token ids in \[0, {vocabulary_size}\), got \[{bad}\]"
        with pytest.raises(ValueError, match=pattern):
            _prefill(runner, [5, 6, bad])
        with pytest.raises(ValueError, match=r"`text_or_ids` must hold token ids in \[0, 108\)"):
            runner.generate([5, bad], 3)
        with pytest.raises(ValueError, match=r"`text_or_ids` must hold token ids"):
            runner.generate([5, bad], 3, use_generate_signature=False)
        with pytest.raises(ValueError, match="Input 'token_ids' of signature 'generate' must hold token ids"):
            runner.run("generate", **_generate_inputs(token_ids=[[5, bad] + [0] * (L - 2)]))
        with pytest.raises(ValueError, match="Input 'token_ids' of signature 'detokenize' must hold token ids"):
            runner.detokenize([5, bad])
    with pytest.raises(ValueError, match=r"pad with 0"):  # padding is read too: a bad pad id fails the kernel
        runner.run("prefill", token_ids=np.full((1, L), -1, np.int32), length=np.array([1], np.int32))
    out = _prefill(runner, [5, 6, 7])
    caches = {name: out[name] for name in cache_names(1)}
    with pytest.raises(ValueError, match="Input 'token_id' of signature 'decode' must hold token ids in"):
        runner.run("decode", token_id=np.array([[-1]], np.int32), cache_index=np.array([3], np.int32), **caches)
    with pytest.raises(ValueError, match=r"'token_id' of signature 'decode' holds values outside the int32 range"):
        runner.run("decode", token_id=np.array([[2**32 + 5]]), cache_index=np.array([3], np.int32), **caches)
    assert _prefill(runner, [5, 6, vocabulary_size - 1])["logits"].shape == (1, vocabulary_size)  # the edge is fine


def test_lengths_and_sampling_settings_are_refused_out_of_range(bundle):
    _, runner, vocabulary_size = bundle
    with pytest.raises(ValueError, match=r"Input 'length' of signature 'prefill' must be in \[1, 16\], got 0"):
        _prefill(runner, [5], length=0)
    with pytest.raises(ValueError, match=r"'length' of signature 'prefill' must be in \[1, 16\], got 17"):
        _prefill(runner, [5], length=17)
    cases = {
        r"'temperature' .* must be a finite number > 0 when top_k > 1, got 0.0": dict(temperature=0.0),
        r"'temperature' .* got -1.0 .*least likely tokens": dict(temperature=-1.0),
        r"'temperature' .* got nan": dict(temperature=np.nan),
        r"'top_k' .* must be in \[1, 8\] \(the exported max_top_k\), got 9": dict(top_k=9),
        r"'top_k' .* got 0": dict(top_k=0),
        r"'seed' .* must be >= 0, got -5": dict(seed=-5),
        r"'max_new_tokens' .* must be in \[1, 14\] \(the room left in max_length\), got 15": dict(max_new_tokens=15),
        r"'max_new_tokens' .* got 0": dict(max_new_tokens=0),
        r"'length' of signature 'generate' must be in \[1, 16\], got 0": dict(length=0),
        rf"'stop_token_ids' .* in \[0, {vocabulary_size}\), got \[-3, {vocabulary_size}\] \(-1 marks an unused slot": dict(
            stop_token_ids=[[vocabulary_size, -3]]
        ),
    }
    for pattern, change in cases.items():
        with pytest.raises(ValueError, match=pattern):
            runner.run("generate", **_generate_inputs(**change))
    assert runner.run("generate", **_generate_inputs(top_k=1, temperature=0.0))["length"][0] == 6  # greedy: unused
    for use_generate_signature in (True, False):
        for temperature in (0.0, -1.0, float("nan"), float("inf"), "hot"):
            with pytest.raises(ValueError, match=r"`temperature` must be a finite number > 0"):
                runner.generate([5, 6], 3, sampler="top_k", k=3, temperature=temperature,
                                use_generate_signature=use_generate_signature)
        with pytest.raises(ValueError, match=rf"`stop_token_ids` must be ids in \[0, {vocabulary_size}\)"):
            runner.generate([5, 6], 3, stop_token_ids=[vocabulary_size + 5], use_generate_signature=use_generate_signature)


def test_tokenize_refuses_invalid_utf8(bundle):
    # The SentencePiece kernel would turn the bytes into unknown tokens in silence.
    _, runner, _ = bundle
    for data in (b"ab\xffcd", b"\xed\xa0\x80", b"caf\xc3"):
        with pytest.raises(ValueError, match="Input 'text' of signature 'tokenize' must be UTF-8 text"):
            runner.tokenize(data)
    assert runner.tokenize("ok fine".encode()).tolist() == runner.tokenize("ok fine").tolist() != []


def test_weights_checksum_is_stamped_and_verified(bundle, tmp_path):
    path, runner, _ = bundle
    with open(path, "rb") as f:
        content = f.read()
    stamped = runner.weights_checksum
    assert stamped == weights_checksum(content) and stamped["num_bytes"] > 100_000
    assert stamp_checksum(content) == content  # stamping again changes nothing: the checksum skips metadata
    # Flip one bit inside a weight buffer (found as a run of bytes of the file that the checksum covers).
    position = content.index(np.frombuffer(_largest_buffer(content), np.uint8)[:64].tobytes()) + 1000
    flipped = bytearray(content)
    flipped[position] ^= 0x10
    bad_path = tmp_path / "flipped.tflite"
    bad_path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=rf"{re.escape(repr(str(bad_path)))} .*: weights checksum mismatch"):
        LiteRunner(str(bad_path))
    assert LiteRunner(str(bad_path), verify_checksum=False).weights_checksum is None  # the caller's choice
    # A tool that changes weights on purpose stamps again (in place: same size), and the file loads.
    restamped = stamp_checksum(bytes(flipped))
    assert len(restamped) == len(content) and LiteRunner(restamped).weights_checksum["sha256"] != stamped["sha256"]


def test_damaged_files_give_a_value_error_naming_the_path(bundle, tmp_path):
    path, _, _ = bundle
    with open(path, "rb") as f:
        content = f.read()
    rng = np.random.default_rng(0)
    for cut in (8, 1000, len(content) // 2, len(content) - 1):
        (tmp_path / "cut.tflite").write_bytes(content[:cut])
        with pytest.raises(ValueError, match=re.escape(repr(str(tmp_path / "cut.tflite")))):
            LiteRunner(str(tmp_path / "cut.tflite"))
    for _ in range(8):  # flipped bits anywhere: a ValueError or a file that loads, never struct.error / IndexError
        damaged = bytearray(content)
        damaged[int(rng.integers(0, len(content)))] ^= 1 << int(rng.integers(0, 8))
        try:
            LiteRunner(bytes(damaged))
        except ValueError:
            pass


def test_write_conversion_stamps_every_converted_file(bundle, tmp_path):
    path, _, _ = bundle
    with open(path, "rb") as f:
        content = f.read()
    out = tmp_path / "written.tflite"
    assert write_conversion(lambda: content, str(out)) == 0
    written = out.read_bytes()
    assert LiteRunner(written).weights_checksum == weights_checksum(content)
    assert CHECKSUM_NAME.encode() in written


def _largest_buffer(content):
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    return max((model.Buffers(i).DataAsNumpy() for i in range(model.BuffersLength())),
               key=lambda data: 0 if isinstance(data, int) else data.size)


# --- Bad input to the export helpers fails with a message naming the argument (issue #17). No conversion. ---

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


def test_available_signatures_refuses_what_export_refuses():
    import keras

    with pytest.raises(TypeError, match="functional keras.Model"):
        export.available_signatures(keras.layers.Dense(2))
