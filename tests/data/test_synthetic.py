"""Synthetic seq2seq tasks: every example recomputed independently from its source."""

import numpy as np
import pytest

from kerasnlp_lite.data.synthetic import (
    addition_task,
    copy_task,
    first_token_repeats_task,
    reverse_task,
    sort_task,
    synthetic_vocabulary,
)

PAD, BOS, EOS = 0, 1, 2
KEYS = {"source_ids", "source_padding_mask", "decoder_input_ids", "target_ids", "target_padding_mask"}


def unpack(row, mask):
    """Content ids of one padded row: everything before EOS; checks EOS, PAD and mask layout."""
    row = row.tolist()
    end = row.index(EOS)
    assert all(t == PAD for t in row[end + 1 :]), row
    assert mask.tolist() == [1] * (end + 1) + [0] * (len(row) - end - 1)
    return row[:end]


def check_layout(out, n, source_length, target_length):
    assert set(out) == KEYS
    assert out["source_ids"].shape == (n, source_length) and out["target_ids"].shape == (n, target_length)
    for value in out.values():
        assert value.dtype == np.int32
    pairs = []
    for i in range(n):
        source = unpack(out["source_ids"][i], out["source_padding_mask"][i])
        target = unpack(out["target_ids"][i], out["target_padding_mask"][i])
        decoder = out["decoder_input_ids"][i].tolist()
        assert decoder == ([BOS] + target + [PAD] * target_length)[:target_length]
        pairs.append((source, target))
    return pairs


@pytest.mark.parametrize(
    "task,answer",
    [(copy_task, lambda s: list(s)), (reverse_task, lambda s: s[::-1]), (sort_task, lambda s: sorted(s))],
)
def test_sequence_tasks(task, answer):
    out = task(500, min_length=2, max_length=9, vocabulary_size=12, seed=3)
    pairs = check_layout(out, 500, 10, 10)
    lengths = [len(s) for s, _ in pairs]
    assert min(lengths) == 2 and max(lengths) == 9
    for source, target in pairs:
        assert all(3 <= t < 12 for t in source)
        assert target == answer(source)
    vocabulary = synthetic_vocabulary(task.__name__.split("_")[0], 12)
    assert len(vocabulary) == 12 and vocabulary[:3] == ["[PAD]", "[BOS]", "[EOS]"]
    # Seeded.
    again = task(500, min_length=2, max_length=9, vocabulary_size=12, seed=3)
    other = task(500, min_length=2, max_length=9, vocabulary_size=12, seed=4)
    assert all(np.array_equal(out[k], again[k]) for k in KEYS)
    assert not np.array_equal(out["source_ids"], other["source_ids"])


def test_addition_task():
    vocabulary = synthetic_vocabulary("addition")
    assert vocabulary == ["[PAD]", "[BOS]", "[EOS]"] + list("0123456789") + ["+"]
    out = addition_task(1000, min_digits=1, max_digits=4, seed=0)
    pairs = check_layout(out, 1000, 10, 6)
    digit_counts = set()
    for source, target in pairs:
        text = "".join(vocabulary[t] for t in source)
        left, right = text.split("+")
        assert left == str(int(left)) and right == str(int(right)), text  # no leading zeros
        digit_counts |= {len(left), len(right)}
        assert "".join(vocabulary[t] for t in target) == str(int(left) + int(right))
    assert digit_counts == {1, 2, 3, 4}
    assert np.array_equal(addition_task(50, seed=9)["source_ids"], addition_task(50, seed=9)["source_ids"])
    # The example, written by hand: "123+45" -> "168".
    assert [vocabulary[t] for t in [4, 5, 6, 13, 7, 8]] == list("123+45")


def test_bad_arguments():
    with pytest.raises(ValueError, match="min_length"):
        copy_task(4, min_length=5, max_length=3)
    with pytest.raises(ValueError, match="min_length"):
        reverse_task(4, min_length=0)
    with pytest.raises(ValueError, match="vocabulary_size"):
        sort_task(4, vocabulary_size=4)
    with pytest.raises(TypeError, match="num_examples"):
        copy_task(2.0)
    with pytest.raises(ValueError, match="max_digits"):
        addition_task(4, max_digits=19)
    with pytest.raises(ValueError, match="min_digits"):
        addition_task(4, min_digits=3, max_digits=2)
    with pytest.raises(ValueError, match="task"):
        synthetic_vocabulary("multiply")


def test_first_token_repeats_task_unchanged():
    out = first_token_repeats_task(200, seed=0)
    ids, mask, labels = out["token_ids"], out["padding_mask"], out["labels"]
    for row, m, label in zip(ids, mask, labels):
        real = row[m == 1]
        assert label == int(real[0] in real[1:].tolist())
    assert 0.35 < labels.mean() < 0.65
