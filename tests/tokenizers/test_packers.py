"""SegmentPacker / StartEndPacker against KerasHub, tf-text's trimmers and plain Python.

KerasHub and tf-text are references here only. The packers must reproduce
KerasHub's `MultiSegmentPacker` / `StartEndPacker` ids exactly, their budgets
must equal tf-text's `RoundRobinTrimmer` / `WaterfallTrimmer` allocations, and
the truncation report must count exactly the dropped tokens.
"""

import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from kerasnlp_lite.tokenizers.packers import (
    SegmentPacker,
    StartEndPacker,
    round_robin_allocation,
    waterfall_allocation,
)
from tests.test_case import check_config

CLS, SEP, PAD = 101, 102, 0


def random_ragged(rng, batch, max_length, low=1000, high=2000):
    rows = [rng.integers(low, high, size=int(rng.integers(0, max_length + 1))).tolist() for _ in range(batch)]
    return tf.ragged.constant(rows, dtype=tf.int32, ragged_rank=1, inner_shape=()), rows


def python_pack(segments, sequence_length, kept, start=(CLS,), sep=(SEP,), end=(SEP,)):
    """Plain-Python layout of one example, given how many tokens each segment keeps."""
    tokens, ids = list(start), [0] * len(start)
    for i, (segment, k) in enumerate(zip(segments, kept)):
        closing = list(sep if i < len(segments) - 1 else end)
        tokens += segment[:k] + closing
        ids += [i] * (k + len(closing))
    mask = [1] * len(tokens) + [0] * (sequence_length - len(tokens))
    return tokens + [PAD] * (sequence_length - len(tokens)), ids + [0] * (sequence_length - len(ids)), mask


def python_round_robin(lengths, budget):
    """The textbook loop: one token to each segment in turn while budget lasts."""
    kept = [0] * len(lengths)
    while budget > 0 and any(k < n for k, n in zip(kept, lengths)):
        for i, n in enumerate(lengths):
            if budget > 0 and kept[i] < n:
                kept[i] += 1
                budget -= 1
    return kept


@pytest.mark.parametrize("truncate", ["round_robin", "waterfall"])
def test_allocation_matches_tf_text_trimmers(truncate):
    rng = np.random.default_rng(0)
    trimmer_cls = tf_text.RoundRobinTrimmer if truncate == "round_robin" else tf_text.WaterfallTrimmer
    ours = round_robin_allocation if truncate == "round_robin" else waterfall_allocation
    for num_segments in (1, 2, 3, 4):
        segments = [random_ragged(rng, 64, 12)[0] for _ in range(num_segments)]
        lengths = tf.stack([s.row_lengths() for s in segments], axis=1)
        lengths = tf.cast(lengths, tf.int32)
        for budget in (0, 1, 3, 7, 10, 25, 60):
            trimmed = trimmer_cls(budget).trim(segments)
            expected = np.stack([t.row_lengths().numpy() for t in trimmed], axis=1)
            np.testing.assert_array_equal(ours(lengths, budget).numpy(), expected, err_msg=f"{num_segments} {budget}")
            if truncate == "round_robin":
                for row_lengths, row in zip(lengths.numpy().tolist(), expected.tolist()):
                    assert python_round_robin(row_lengths, budget) == row


@pytest.mark.parametrize("truncate", ["round_robin", "waterfall"])
@pytest.mark.parametrize("num_segments", [1, 2, 3])
def test_segment_packer_matches_keras_hub(truncate, num_segments):
    from keras_hub.layers import MultiSegmentPacker

    rng = np.random.default_rng(num_segments)
    for sequence_length in (num_segments + 1, 8, 16, 40):
        data = [random_ragged(rng, 48, 20) for _ in range(num_segments)]
        segments = tuple(d[0] for d in data)
        ours = SegmentPacker(sequence_length, CLS, SEP, pad_value=PAD, truncate=truncate)(segments)
        ref_ids, ref_segments = MultiSegmentPacker(sequence_length, CLS, SEP, pad_value=PAD, truncate=truncate)(
            segments
        )
        np.testing.assert_array_equal(ours["token_ids"].numpy(), np.asarray(ref_ids))
        np.testing.assert_array_equal(ours["segment_ids"].numpy(), np.asarray(ref_segments))
        # Independent layout and truncation count, from tf-text's kept lengths.
        trimmer = tf_text.RoundRobinTrimmer if truncate == "round_robin" else tf_text.WaterfallTrimmer
        kept = np.stack([t.row_lengths().numpy() for t in trimmer(sequence_length - num_segments - 1).trim(segments)], 1)
        for b in range(48):
            rows = [d[1][b] for d in data]
            tokens, ids, mask = python_pack(rows, sequence_length, kept[b])
            assert ours["token_ids"][b].numpy().tolist() == tokens
            assert ours["segment_ids"][b].numpy().tolist() == ids
            assert ours["padding_mask"][b].numpy().tolist() == mask
            assert int(ours["num_truncated"][b]) == sum(len(r) for r in rows) - int(kept[b].sum())


def test_bert_pair_layout_and_padding_positions():
    out = SegmentPacker(10, CLS, SEP)(([7, 8], [9]))
    assert out["token_ids"].numpy().tolist() == [CLS, 7, 8, SEP, 9, SEP, 0, 0, 0, 0]
    assert out["segment_ids"].numpy().tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert out["padding_mask"].numpy().tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert int(out["num_truncated"]) == 0
    # The pad id may occur inside the content: the mask comes from lengths, not ids.
    out = SegmentPacker(6, CLS, SEP)(([0, 0],))
    assert out["padding_mask"].numpy().tolist() == [1, 1, 1, 1, 0, 0]


def test_roberta_double_separator_matches_keras_hub():
    from keras_hub.layers import MultiSegmentPacker

    rng = np.random.default_rng(5)
    a, _ = random_ragged(rng, 32, 15)
    b, _ = random_ragged(rng, 32, 15)
    ours = SegmentPacker(20, 0, 2, sep_value=[2, 2], pad_value=1)((a, b))
    ref_ids, ref_segments = MultiSegmentPacker(20, 0, 2, sep_value=[2, 2], pad_value=1)((a, b))
    np.testing.assert_array_equal(ours["token_ids"].numpy(), np.asarray(ref_ids))
    np.testing.assert_array_equal(ours["segment_ids"].numpy(), np.asarray(ref_segments))


@pytest.mark.parametrize(
    "start,end", [(1, 2), (None, 2), (1, None), (None, None), ([1, 3], [4, 2])]
)
def test_start_end_packer_matches_keras_hub(start, end):
    from keras_hub.layers import StartEndPacker as HubStartEndPacker

    rng = np.random.default_rng(7)
    inputs, rows = random_ragged(rng, 64, 14)
    n_special = len(np.atleast_1d(start if start is not None else [])) + len(np.atleast_1d(end if end is not None else []))
    for sequence_length in (max(n_special, 1), 6, 12, 20):
        ours = StartEndPacker(sequence_length, start, end, pad_value=PAD)(inputs)
        ref_ids, ref_mask = HubStartEndPacker(sequence_length, start, end, pad_value=PAD, return_padding_mask=True)(
            inputs
        )
        np.testing.assert_array_equal(ours["token_ids"].numpy(), np.asarray(ref_ids))
        np.testing.assert_array_equal(ours["padding_mask"].numpy(), np.asarray(ref_mask).astype(np.int32))
        budget = sequence_length - n_special
        np.testing.assert_array_equal(ours["num_truncated"].numpy(), [max(0, len(r) - budget) for r in rows])
    assert "padding_mask" not in StartEndPacker(8, 1, 2, return_padding_mask=False)(inputs)


def test_unbatched_dense_and_list_inputs():
    packer = SegmentPacker(8, CLS, SEP)
    single = packer((tf.constant([1, 2, 3]), tf.constant([4, 5])))
    assert single["token_ids"].shape == (8,) and single["num_truncated"].shape == ()
    dense = packer((tf.constant([[1, 2, 3]]), tf.constant([[4, 5]])))
    np.testing.assert_array_equal(dense["token_ids"][0], single["token_ids"])
    assert StartEndPacker(5, 1, 2)([7, 8])["token_ids"].numpy().tolist() == [1, 7, 8, 2, 0]
    assert StartEndPacker(5, 1, 2)([])["token_ids"].numpy().tolist() == [1, 2, 0, 0, 0]


def test_tf_data_and_tf_function():
    rng = np.random.default_rng(3)
    a, _ = random_ragged(rng, 20, 10)
    b, _ = random_ragged(rng, 20, 10)
    packer = SegmentPacker(12, CLS, SEP, truncate="waterfall")
    eager = packer((a, b))
    graph = tf.function(lambda x, y: packer((x, y)))(a, b)
    ds = tf.data.Dataset.from_tensor_slices((a, b)).map(lambda x, y: packer((x, y))).batch(20)
    mapped = next(iter(ds))
    ds_batched = tf.data.Dataset.from_tensor_slices((a, b)).ragged_batch(20).map(lambda x, y: packer((x, y)))
    batched = next(iter(ds_batched))
    for key in eager:
        np.testing.assert_array_equal(graph[key], eager[key])
        np.testing.assert_array_equal(mapped[key], eager[key])
        np.testing.assert_array_equal(batched[key], eager[key])


def test_on_truncation_error():
    packer = SegmentPacker(6, CLS, SEP, on_truncation="error")
    assert int(packer(([1], [2]))["num_truncated"]) == 0  # fits: no error
    with pytest.raises(ValueError, match="truncate"):
        packer(([1, 2, 3], [4, 5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="truncate"):
        tf.function(lambda x: packer((x,)))(tf.ragged.constant([[1, 2, 3, 4, 5, 6]]))
    with pytest.raises(ValueError, match="truncate"):
        StartEndPacker(3, 1, 2, on_truncation="error")([5, 6])


def test_bad_arguments():
    with pytest.raises(ValueError, match="sequence_length"):
        SegmentPacker(1, CLS, SEP)
    with pytest.raises(ValueError, match="sequence_length"):
        SegmentPacker(3, CLS, SEP)(([1], [2], [3]))  # 3 segments need 4 special positions
    with pytest.raises(ValueError, match="sequence_length"):
        StartEndPacker(1, [1, 1], None)
    with pytest.raises(TypeError, match="sequence_length"):
        SegmentPacker(8.0, CLS, SEP)
    with pytest.raises(ValueError, match="truncate"):
        SegmentPacker(8, CLS, SEP, truncate="longest_first")
    with pytest.raises(ValueError, match="on_truncation"):
        StartEndPacker(8, on_truncation="ignore")
    with pytest.raises(TypeError, match="start_value"):
        SegmentPacker(8, "[CLS]", SEP)
    with pytest.raises(ValueError, match="end_value"):
        SegmentPacker(8, CLS, None)
    packer = SegmentPacker(8, CLS, SEP)
    with pytest.raises(TypeError, match="integer"):
        packer((tf.constant([1.0, 2.0]),))
    with pytest.raises(ValueError, match="shape"):
        packer(tf.zeros([2, 2, 2], tf.int32))
    with pytest.raises(ValueError, match="batched"):
        packer((tf.constant([1, 2]), tf.ragged.constant([[1], [2]])))
    with pytest.raises(ValueError, match="at least one"):
        packer(())


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (SegmentPacker, dict(sequence_length=16, start_value=CLS, end_value=SEP, sep_value=[SEP, SEP],
                             pad_value=0, truncate="waterfall", on_truncation="report")),
        (StartEndPacker, dict(sequence_length=16, start_value=1, end_value=[2], pad_value=3,
                              return_padding_mask=False, on_truncation="error")),
    ],
)
def test_config_round_trip(cls, kwargs):
    check_config(cls, kwargs)


def test_keras_model_round_trip():
    a = keras.Input(shape=(None,), dtype="int32", name="a")
    b = keras.Input(shape=(None,), dtype="int32", name="b")
    outputs = SegmentPacker(12, CLS, SEP, name="packer")((a, b))
    single = StartEndPacker(6, 1, 2, name="start_end")(a)
    model = keras.Model({"a": a, "b": b}, {**outputs, "single_token_ids": single["token_ids"]})
    inputs = {"a": np.arange(1, 19, dtype=np.int32).reshape(2, 9), "b": np.arange(30, 36, dtype=np.int32).reshape(2, 3)}
    expected = model(inputs)
    assert expected["token_ids"].shape == (2, 12)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "packer.keras")
        model.save(path)
        revived = keras.saving.load_model(path, safe_mode=True)
    got = revived(inputs)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))
    assert revived.get_layer("packer").get_config() == model.get_layer("packer").get_config()


def test_segment_packer_in_tflite_builtins_only():
    """A SegmentPacker after ragged inputs (values + row lengths) converts to builtin ops only."""
    from kerasnlp_lite.export.tflite import convert_saved_model, run_tflite, tflite_op_names

    packer = SegmentPacker(16, CLS, SEP)
    spec = lambda name: tf.TensorSpec([None], tf.int32, name=name)

    class Module(tf.Module):
        @tf.function(input_signature=[spec("a_values"), spec("a_lengths"), spec("b_values"), spec("b_lengths")])
        def pack(self, a_values, a_lengths, b_values, b_lengths):
            a = tf.RaggedTensor.from_row_lengths(a_values, a_lengths, validate=False)
            b = tf.RaggedTensor.from_row_lengths(b_values, b_lengths, validate=False)
            return packer((a, b))

    module = Module()
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.pack})
        content = convert_saved_model(tmp)  # builtins only: no tf-text custom op needed
    ops = set(tflite_op_names(content))
    assert not [op for op in ops if op.startswith("Flex") or not op.isupper()], ops
    rng = np.random.default_rng(11)
    for batch in (1, 5):
        a_lengths = rng.integers(0, 14, size=batch).astype(np.int32)
        b_lengths = rng.integers(0, 14, size=batch).astype(np.int32)
        inputs = {
            "a_values": rng.integers(1000, 2000, size=a_lengths.sum()).astype(np.int32),
            "a_lengths": a_lengths,
            "b_values": rng.integers(1000, 2000, size=b_lengths.sum()).astype(np.int32),
            "b_lengths": b_lengths,
        }
        lite = run_tflite(content, inputs)
        expected = module.pack(**inputs)
        for key in expected:
            np.testing.assert_array_equal(lite[key], expected[key].numpy(), err_msg=f"batch {batch} {key}")
