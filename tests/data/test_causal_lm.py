"""Causal-LM packing against a numpy reference; tf.data version equals the eager one."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.data.causal_lm import causal_lm_dataset, causal_lm_examples

EOS, PAD = 1, 0


def _docs(num=40, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, 500, size=rng.integers(1, 50)).tolist() for _ in range(num)]


def _reference(docs, length, eos):
    stream = np.array(sum((d + ([eos] if eos is not None else []) for d in docs), []), np.int32)
    blocks = []
    for start in range(0, len(stream) - 1, length):
        inputs = stream[start : start + length]
        labels = stream[start + 1 : start + length + 1]
        inputs = inputs[: len(labels)]
        pad = length - len(labels)
        blocks.append((np.pad(inputs, (0, pad)), np.pad(labels, (0, pad)), np.arange(length) < len(labels)))
    return stream, blocks


@pytest.mark.parametrize("length, eos", [(16, EOS), (7, None), (1, EOS)])
def test_matches_numpy_reference_and_covers_every_token(length, eos):
    docs = _docs()
    stream, blocks = _reference(docs, length, eos)
    out = causal_lm_examples(docs, length, end_token_id=eos)
    np.testing.assert_array_equal(out["token_ids"], np.stack([b[0] for b in blocks]))
    np.testing.assert_array_equal(out["labels"], np.stack([b[1] for b in blocks]))
    np.testing.assert_array_equal(out["padding_mask"], np.stack([b[2] for b in blocks]))
    mask = out["padding_mask"].numpy()
    np.testing.assert_array_equal(out["token_ids"].numpy()[mask], stream[:-1])  # every token is an input once
    np.testing.assert_array_equal(out["labels"].numpy()[mask], stream[1:])  # and a label once


def test_last_block_reported_not_dropped():
    docs = [[5, 6, 7], [8, 9]]  # stream 5 6 7 1 8 9 1 -> 6 pairs = one block of 4 + 2
    out = causal_lm_examples(docs, 4, end_token_id=EOS, pad_last_block=False)
    assert out["token_ids"].shape == (1, 4)
    np.testing.assert_array_equal(out["remainder"], [8, 9, 1])
    padded = causal_lm_examples(docs, 4, end_token_id=EOS)
    np.testing.assert_array_equal(padded["token_ids"], [[5, 6, 7, 1], [8, 9, PAD, PAD]])
    np.testing.assert_array_equal(padded["labels"], [[6, 7, 1, 8], [9, 1, PAD, PAD]])
    np.testing.assert_array_equal(padded["padding_mask"], [[1, 1, 1, 1], [1, 1, 0, 0]])
    exact = causal_lm_examples([[5, 6, 7, 8, 9]], 4, pad_last_block=False)
    assert exact["remainder"].shape == (0,) and exact["token_ids"].shape == (1, 4)


def test_ragged_input_and_tf_function():
    docs = _docs(10)
    ragged = tf.ragged.constant(docs, dtype=tf.int32)
    fn = tf.function(lambda r: causal_lm_examples(r, 8, end_token_id=EOS))
    want = causal_lm_examples(docs, 8, end_token_id=EOS)
    got = fn(ragged)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


@pytest.mark.parametrize("length, eos", [(16, EOS), (5, None), (64, EOS)])
def test_dataset_version_equals_eager(length, eos):
    docs = _docs(30, seed=length)
    ds = tf.data.Dataset.from_generator(lambda: iter(docs), output_signature=tf.TensorSpec([None], tf.int32))
    got = list(causal_lm_dataset(ds, length, end_token_id=eos).as_numpy_iterator())
    want = causal_lm_examples(docs, length, end_token_id=eos)
    assert len(got) == want["token_ids"].shape[0]
    for key in want:
        np.testing.assert_array_equal(np.stack([g[key] for g in got]), want[key])


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(sequence_length=0), ValueError, "sequence_length"),
        (dict(sequence_length=4.0), TypeError, "sequence_length"),
        (dict(end_token_id=1.0), TypeError, "end_token_id"),
        (dict(pad_token_id=-1), ValueError, "pad_token_id"),
        (dict(documents_token_ids=[[1.5, 2.0]]), TypeError, "documents_token_ids"),
        (dict(documents_token_ids=tf.constant([1, 2, 3])), ValueError, "documents_token_ids"),
        (dict(pad_last_block="yes"), TypeError, "pad_last_block"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, error, name):
    args = dict(documents_token_ids=[[1, 2, 3]], sequence_length=4)
    args.update(kwargs)
    with pytest.raises(error, match=name):
        causal_lm_examples(**args)


def test_dataset_bad_element_spec():
    with pytest.raises(ValueError, match="dataset"):
        causal_lm_dataset(tf.data.Dataset.from_tensor_slices(np.ones((2, 3, 4), np.int32)), 4)
