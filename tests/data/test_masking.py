"""Masked-LM masking: measured rates on > 100k tokens, specials, whole words, seeds, tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.data.masking import mask_language_model, masked_lm_dataset
from kerasnlp_lite.data.seeds import example_seed

VOCAB, PAD, CLS, SEP, MASK = 30000, 0, 1, 2, 3
SPECIALS = (PAD, CLS, SEP)


def _batch(rows=1000, length=128, seed=0):
    """[CLS] tokens [SEP] [PAD]... with random real lengths; ids >= 10 so none equals a special id."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(10, VOCAB, size=(rows, length)).astype(np.int32)
    lengths = rng.integers(length * 3 // 4, length + 1, size=rows)
    real = np.arange(length)[None, :] < lengths[:, None]
    ids[:, 0] = CLS
    ids[np.arange(rows), lengths - 1] = SEP
    ids[~real] = PAD
    return ids, real


@pytest.fixture(scope="module")
def masked():
    ids, real = _batch()
    out = mask_language_model(ids, VOCAB, MASK, seed=42, unselectable_ids=SPECIALS, output="dense")
    return ids, real, {k: v.numpy() for k, v in out.items()}


def test_selection_rate_and_80_10_10_split(masked):
    ids, real, out = masked
    candidates = real & ~np.isin(ids, SPECIALS)
    assert candidates.sum() > 100_000
    selected = out["sample_weights"] > 0
    rate = selected.sum() / candidates.sum()
    assert abs(rate - 0.15) < 0.005, rate
    # Exactly BERT's count per row: max(1, round(0.15 * n)) (numpy rounds half to even, as tf.round).
    np.testing.assert_array_equal(selected.sum(1), np.maximum(1, np.round(0.15 * candidates.sum(1))))
    new = out["token_ids"][selected]
    old = ids[selected]
    to_mask = np.mean(new == MASK)
    to_random = np.mean((new != MASK) & (new != old))
    unchanged = np.mean(new == old)
    assert abs(to_mask - 0.8) < 0.01 and abs(to_random - 0.1) < 0.01 and abs(unchanged - 0.1) < 0.01, (
        to_mask, to_random, unchanged)
    np.testing.assert_array_equal(out["labels"], ids)


def test_specials_and_padding_never_selected(masked):
    ids, real, out = masked
    never = ~real | np.isin(ids, SPECIALS)
    assert not np.any(out["sample_weights"][never])
    np.testing.assert_array_equal(out["token_ids"][never], ids[never])
    np.testing.assert_array_equal(out["token_ids"][out["sample_weights"] == 0], ids[out["sample_weights"] == 0])


def test_padding_mask_excludes_padding_without_unselectable_ids():
    ids, real = _batch(rows=200)
    out = mask_language_model(ids, VOCAB, MASK, seed=1, padding_mask=real, output="dense")
    assert not np.any(out["sample_weights"].numpy()[~real])


def test_positions_output_matches_dense_and_never_drops():
    ids, real = _batch(rows=300)
    kwargs = dict(seed=7, unselectable_ids=SPECIALS, max_selections=20)
    dense = mask_language_model(ids, VOCAB, MASK, output="dense", **kwargs)
    pos = mask_language_model(ids, VOCAB, MASK, output="positions", **kwargs)
    np.testing.assert_array_equal(pos["token_ids"], dense["token_ids"])
    weights = pos["mask_weights"].numpy()
    positions = pos["mask_positions"].numpy()
    assert weights.shape == (300, 20)
    for row in range(300):
        chosen = np.flatnonzero(dense["sample_weights"].numpy()[row])
        n = int(weights[row].sum())
        np.testing.assert_array_equal(positions[row, :n], chosen)  # ascending, all of them
        np.testing.assert_array_equal(pos["mask_ids"].numpy()[row, :n], ids[row, chosen])
        assert not positions[row, n:].any() and not weights[row, n:].any()


def test_max_selections_caps_the_count_before_choosing():
    ids, real = _batch(rows=50)
    out = mask_language_model(ids, VOCAB, MASK, seed=3, unselectable_ids=SPECIALS, max_selections=5)
    np.testing.assert_array_equal(out["mask_weights"].numpy().sum(1), 5)
    changed_or_selected = (out["token_ids"].numpy() != ids).sum(1)
    assert np.all(changed_or_selected <= 5)


def test_whole_word_masking_selects_whole_words():
    ids, real = _batch(rows=800, seed=5)
    rng = np.random.default_rng(9)
    word_starts = rng.random(ids.shape) < 0.6  # words of ~1.7 pieces
    out = mask_language_model(
        ids, VOCAB, MASK, seed=11, unselectable_ids=SPECIALS, word_starts=word_starts, output="dense"
    )
    selected = out["sample_weights"].numpy() > 0
    candidates = real & ~np.isin(ids, SPECIALS)
    for row in range(ids.shape[0]):
        word = np.cumsum(word_starts[row] | ~candidates[row] | ~np.roll(candidates[row], 1))
        for w in np.unique(word[selected[row]]):
            assert selected[row][word == w].all() and candidates[row][word == w].all()
        assert selected[row].sum() <= max(1, round(0.15 * candidates[row].sum()))
    rate = selected.sum() / candidates.sum()
    assert 0.14 < rate <= 0.15, rate


def test_same_seed_same_output_and_seed_changes_it():
    ids, _ = _batch(rows=20)
    a = mask_language_model(ids, VOCAB, MASK, seed=5, unselectable_ids=SPECIALS)
    b = mask_language_model(ids, VOCAB, MASK, seed=tf.constant([5, 0]), unselectable_ids=SPECIALS)
    c = mask_language_model(ids, VOCAB, MASK, seed=6, unselectable_ids=SPECIALS)
    np.testing.assert_array_equal(a["token_ids"], b["token_ids"])
    assert np.any(a["mask_positions"].numpy() != c["mask_positions"].numpy())


def test_ragged_matches_dense_with_padding_mask():
    rt = tf.ragged.constant([[11, 12, 13, 14, 15, 16, 17, 18], [21, 22, 23], [31, 32, 33, 34, 35]])
    dense = rt.to_tensor()
    a = mask_language_model(rt, VOCAB, MASK, seed=2, selection_rate=0.4, max_selections=4, output="positions")
    b = mask_language_model(
        dense, VOCAB, MASK, seed=2, selection_rate=0.4, max_selections=4, padding_mask=dense != 0
    )
    np.testing.assert_array_equal(a["token_ids"].to_tensor(), b["token_ids"])
    np.testing.assert_array_equal(a["mask_positions"], b["mask_positions"])
    one = mask_language_model(rt[0], VOCAB, MASK, seed=2, selection_rate=0.4, output="dense")
    assert one["token_ids"].shape == (8,) and one["sample_weights"].shape == (8,)


def test_dynamic_masking_changes_per_epoch_static_does_not_and_parallel_equals_eager():
    ids, real = _batch(rows=16, length=32)
    dataset = tf.data.Dataset.from_tensor_slices({"token_ids": ids, "padding_mask": real})
    kwargs = dict(unselectable_ids=SPECIALS, max_selections=8)
    dynamic = list(masked_lm_dataset(dataset, VOCAB, MASK, seed=9, num_epochs=2, num_parallel_calls=4, **kwargs))
    static = list(masked_lm_dataset(dataset, VOCAB, MASK, seed=9, dynamic=False, num_epochs=2, **kwargs))
    assert len(dynamic) == 32 and "padding_mask" in dynamic[0]
    pos = lambda xs: np.stack([x["mask_positions"].numpy() for x in xs])  # noqa: E731
    assert np.mean(np.any(pos(dynamic[:16]) != pos(dynamic[16:]), axis=1)) > 0.9
    np.testing.assert_array_equal(pos(static[:16]), pos(static[16:]))
    np.testing.assert_array_equal(pos(static[:16]), pos(dynamic[:16]))
    for epoch in (0, 1):
        for i in (0, 5, 15):
            eager = mask_language_model(
                ids[i], VOCAB, MASK, example_seed(9, i, epoch), padding_mask=real[i], **kwargs
            )
            got = dynamic[epoch * 16 + i]
            for key in eager:
                np.testing.assert_array_equal(got[key], eager[key])
    resumed = list(masked_lm_dataset(dataset, VOCAB, MASK, seed=9, num_epochs=1, first_epoch=1, **kwargs))
    np.testing.assert_array_equal(pos(resumed), pos(dynamic[16:]))


def test_works_in_parallel_dataset_map_on_batches():
    ids, real = _batch(rows=64, length=32)
    ds = tf.data.Dataset.from_tensor_slices(ids).batch(16).enumerate()
    fn = lambda i, x: mask_language_model(x, VOCAB, MASK, example_seed(3, i), unselectable_ids=SPECIALS)  # noqa: E731
    got = list(ds.map(fn, num_parallel_calls=4, deterministic=False).as_numpy_iterator())
    want = [fn(tf.constant(i, tf.int64), ids[i * 16 : (i + 1) * 16]) for i in range(4)]
    got = sorted(got, key=lambda d: d["mask_positions"].tobytes())
    want = sorted(({k: v.numpy() for k, v in w.items()} for w in want), key=lambda d: d["mask_positions"].tobytes())
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g["token_ids"], w["token_ids"])


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(selection_rate=1.5), ValueError, "selection_rate"),
        (dict(selection_rate=0.0), ValueError, "selection_rate"),
        (dict(mask_rate=-0.1), ValueError, "mask_rate"),
        (dict(mask_rate=0.8, random_rate=0.3), ValueError, "random_rate"),
        (dict(mask_token_id=None), ValueError, "mask_token_id"),
        (dict(mask_token_id=3.0), TypeError, "mask_token_id"),
        (dict(mask_token_id=VOCAB), ValueError, "mask_token_id"),
        (dict(vocabulary_size=0), ValueError, "vocabulary_size"),
        (dict(seed=None), TypeError, "seed"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(seed=tf.constant([1, 2, 3])), ValueError, "seed"),
        (dict(output="labels"), ValueError, "output"),
        (dict(max_selections=0), ValueError, "max_selections"),
        (dict(token_ids=np.ones((2, 4), np.float32)), TypeError, "token_ids"),
        (dict(token_ids=np.ones((2, 2, 4), np.int32)), ValueError, "token_ids"),
        (dict(padding_mask=np.ones((4,), bool)), ValueError, "padding_mask"),
        (dict(word_starts=np.ones((3, 4), bool)), ValueError, "word_starts"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, error, name):
    args = dict(token_ids=np.ones((2, 4), np.int32), vocabulary_size=VOCAB, mask_token_id=MASK, seed=0)
    args.update(kwargs)
    with pytest.raises(error, match=name):
        mask_language_model(**args)


def test_ragged_positions_needs_max_selections():
    with pytest.raises(ValueError, match="max_selections"):
        mask_language_model(tf.ragged.constant([[5, 6], [7]]), VOCAB, MASK, seed=0)
