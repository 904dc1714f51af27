"""Packing token ids into fixed-length model inputs, with explicit truncation.

Shape legend: B = batch, S = number of segments, L = `sequence_length`.

`SegmentPacker` builds BERT's three inputs (Devlin et al. 2019, section 3,
figure 2) from 1..S segments: `[CLS] A [SEP] B [SEP] [PAD]...`, with segment
id 0 on `[CLS] A [SEP]`, 1 on `B [SEP]` (i on segment i and the separator
after it) and 0 on padding. `StartEndPacker` does the same for one sequence
with optional start and end tokens (GPT, BART, T5 inputs).

Truncation is never silent: every packer returns `num_truncated`, the number
of content tokens dropped from each example, and `on_truncation="error"`
makes any truncation fail instead.

Everything is dense TensorFlow arithmetic plus `gather` on the ragged values,
so the packers run eagerly, in `tf.data`, in `tf.function`, and convert to
TFLite with builtin ops only (no tf-text custom op, no Flex). The round-robin
and waterfall budgets are computed in closed form and match tf-text's
`RoundRobinTrimmer` / `WaterfallTrimmer` exactly (tested).
"""

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.utils.validation import check_positive_int, is_int

TRUNCATION_MODES = ("round_robin", "waterfall")
ON_TRUNCATION = ("report", "error")


def _special_ids(value, name, allow_none=True):
    """An int, a list/tuple of ints, or None -> tuple of ints."""
    if value is None:
        if allow_none:
            return ()
        raise ValueError(f"`{name}` is required (an int token id or a list of them), got None.")
    values = (value,) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(values, (list, tuple)) or any(not is_int(v) for v in values):
        raise TypeError(f"`{name}` must be an int token id or a list of ints, got {value!r}.")
    if any(v < 0 for v in values):
        raise ValueError(f"`{name}` must hold token ids >= 0, got {value!r}.")
    return tuple(values)


def _is_tensor(x):
    return isinstance(x, (tf.Tensor, tf.RaggedTensor, tf.Variable, np.ndarray, keras.KerasTensor))


def _check_room(sequence_length, start, end):
    if sequence_length < len(start) + len(end):
        raise ValueError(
            f"`sequence_length`={sequence_length} is too small for the special tokens: "
            f"{len(start)} start + {len(end)} end ids need at least {len(start) + len(end)}."
        )


def _check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}, got {value!r}.")


def _as_segment(x, name):
    """One segment -> (values [N] int32, row_splits [B + 1] int32, batched?).

    A `tf.RaggedTensor` `[B, None]` is a batch of rows; a dense `[B, T]`
    tensor a batch of full rows of length T; a 1-D tensor or list one example.
    """
    if isinstance(x, (list, tuple)):
        try:
            x = tf.constant(x)
        except (ValueError, TypeError):
            x = tf.ragged.constant(x)
        if x.dtype == tf.float32 and x.shape.num_elements() == 0:  # [] -> empty int row
            x = tf.cast(x, tf.int32)
    elif not isinstance(x, tf.RaggedTensor):
        x = tf.convert_to_tensor(x)
    if not x.dtype.is_integer:
        raise TypeError(f"`{name}` must hold integer token ids, got dtype {x.dtype.name}.")
    rank = x.shape.rank
    if isinstance(x, tf.RaggedTensor):
        if rank != 2 or x.ragged_rank != 1:
            raise ValueError(f"`{name}` must be a ragged tensor of shape [batch, None], got shape {x.shape}.")
        return tf.cast(x.values, tf.int32), tf.cast(x.row_splits, tf.int32), True
    if rank == 1:
        values = tf.cast(x, tf.int32)
        return values, tf.stack([0, tf.size(values)]), False
    if rank == 2:
        shape = tf.shape(x)
        splits = tf.range(shape[0] + 1) * shape[1]
        return tf.reshape(tf.cast(x, tf.int32), [-1]), splits, True
    raise ValueError(
        f"`{name}` must have shape [sequence], [batch, sequence] or be ragged [batch, None]; got shape {x.shape}."
    )


def round_robin_allocation(lengths, budget):
    """Per-segment budgets, one token at a time to each segment in turn.

    Same allocation as tf-text's `RoundRobinTrimmer`: repeatedly walk the
    segments left to right, giving one more token to each that still has
    tokens, until `budget` tokens are given (budget 5, lengths [3, 4, 2] ->
    [2, 2, 1]). Closed form instead of a loop: with
    `f(k) = sum_i min(n_i, k)`, let `k*` be the largest `k <= budget` with
    `f(k) <= budget`; every segment gets `min(n_i, k*)`, and the
    `budget - f(k*)` leftover tokens go, one each, to the leftmost segments
    with `n_i > k*`.

    Args:
        lengths: int32 `[B, S]`, the segment lengths.
        budget: Python int >= 0.

    Returns:
        int32 `[B, S]`, how many tokens each segment keeps.
    """
    if budget == 0:
        return tf.zeros_like(lengths)
    k = tf.range(1, budget + 1)  # [K] candidate levels
    filled = tf.reduce_sum(tf.minimum(lengths[:, :, None], k[None, None, :]), axis=1)  # f(k): [B, K]
    # f is non-decreasing in k, so the count of levels that fit is k*.
    level = tf.reduce_sum(tf.cast(filled <= budget, tf.int32), axis=1)  # [B]
    base = tf.minimum(lengths, level[:, None])  # [B, S]
    leftover = budget - tf.reduce_sum(base, axis=1)  # [B]
    longer = tf.cast(lengths > level[:, None], tf.int32)
    rank = tf.cumsum(longer, axis=1, exclusive=True)
    return base + longer * tf.cast(rank < leftover[:, None], tf.int32)


def waterfall_allocation(lengths, budget):
    """Per-segment budgets filling segments left to right (tf-text's `WaterfallTrimmer`).

    Budget 5, lengths [3, 4, 2] -> [3, 2, 0].
    """
    before = tf.cumsum(lengths, axis=1, exclusive=True)
    return tf.clip_by_value(budget - before, 0, lengths)


def _gather_rows(values, row_splits, rows, offsets):
    """values[row_splits[rows] + offsets], safe where the index is out of range (result then unused)."""
    # One trailing element so the gather never reads an empty `values`.
    padded = tf.concat([values, tf.zeros([1], values.dtype)], axis=0)
    index = tf.gather(row_splits, rows) + offsets
    index = tf.clip_by_value(index, 0, tf.size(values))
    return tf.gather(padded, index)


def _pack(segments, sequence_length, start, sep, end, pad_value, truncate):
    """Dense packing of S segments given as (values, row_splits); see `SegmentPacker`.

    Returns token_ids, segment_ids, padding_mask (int32 [B, L]) and num_truncated (int32 [B]).
    """
    num_segments = len(segments)
    budget = sequence_length - len(start) - (num_segments - 1) * len(sep) - len(end)
    lengths = tf.stack([splits[1:] - splits[:-1] for _, splits in segments], axis=1)  # [B, S]
    allocate = round_robin_allocation if truncate == "round_robin" else waterfall_allocation
    kept = allocate(lengths, budget)  # [B, S]
    num_truncated = tf.reduce_sum(lengths - kept, axis=1)  # [B]

    batch = tf.shape(lengths)[0]
    rows = tf.broadcast_to(tf.range(batch)[:, None], [batch, sequence_length])  # [B, L]
    position = tf.broadcast_to(tf.range(sequence_length)[None, :], [batch, sequence_length])
    token_ids = tf.fill([batch, sequence_length], tf.constant(pad_value, tf.int32))
    segment_ids = tf.zeros([batch, sequence_length], tf.int32)

    def place(tokens, ids, offset, length, content, segment):
        """Writes `content(relative position)` at [offset, offset + length) of each row."""
        relative = position - offset[:, None]
        length = tf.broadcast_to(tf.convert_to_tensor(length, tf.int32), [batch])
        inside = (relative >= 0) & (relative < length[:, None])
        tokens = tf.where(inside, content(relative), tokens)
        ids = tf.where(inside, tf.fill(tf.shape(ids), segment), ids)
        return tokens, ids

    def constant_content(special):
        table = tf.constant(special, tf.int32)
        return lambda relative: tf.gather(table, tf.clip_by_value(relative, 0, len(special) - 1))

    offset = tf.zeros([batch], tf.int32)
    if start:
        token_ids, segment_ids = place(token_ids, segment_ids, offset, len(start), constant_content(start), 0)
        offset += len(start)
    for i, (values, splits) in enumerate(segments):
        content = lambda relative, values=values, splits=splits: _gather_rows(values, splits, rows, relative)
        token_ids, segment_ids = place(token_ids, segment_ids, offset, kept[:, i], content, i)
        offset += kept[:, i]
        closing = sep if i < num_segments - 1 else end
        if closing:
            token_ids, segment_ids = place(token_ids, segment_ids, offset, len(closing), constant_content(closing), i)
            offset += len(closing)
    padding_mask = tf.cast(position < offset[:, None], tf.int32)
    return token_ids, segment_ids, padding_mask, num_truncated


class _Packer(keras.layers.Layer):
    """Shared plumbing: tf.Tensor/RaggedTensor inputs pass through unconverted."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "int32")
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        # Ragged inputs must reach `call` as they are (as in KerasHub's preprocessing layers).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True

    def _finish(self, outputs, num_truncated, batched):
        if self.on_truncation == "error":
            message = (
                f"{type(self).__name__}(sequence_length={self.sequence_length}) had to truncate the input "
                "and on_truncation='error'. Raise `sequence_length` or pass on_truncation='report'."
            )
            if tf.executing_eagerly():
                if int(tf.reduce_max(tf.concat([num_truncated, [0]], 0))) > 0:
                    raise ValueError(message + f" Tokens dropped per example: {num_truncated.numpy().tolist()}.")
            else:
                check = tf.debugging.assert_equal(num_truncated, 0, message=message)
                with tf.control_dependencies([check]):
                    num_truncated = tf.identity(num_truncated)
        outputs["num_truncated"] = num_truncated
        if not batched:
            outputs = {key: tf.squeeze(value, 0) for key, value in outputs.items()}
        return outputs


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class SegmentPacker(_Packer):
    """Packs 1..S segments into `[CLS] A [SEP] B [SEP] [PAD]...` (BERT's inputs).

    When the content does not fit, the segments are trimmed to a budget of
    `sequence_length - len(start) - (S - 1) * len(sep) - len(end)` tokens:

    - `"round_robin"` (default, KerasHub's `MultiSegmentPacker` and tf-text's
      `RoundRobinTrimmer`): the budget is dealt one token at a time to each
      segment in turn, left to right, so long segments lose the most.
    - `"waterfall"` (tf-text's `WaterfallTrimmer`): segment A keeps as much as
      fits, then B, and so on.

    Tokens are always dropped from the end of a segment. The count dropped
    per example is returned as `num_truncated`; with
    `on_truncation="error"` any truncation raises instead (ValueError
    eagerly, `InvalidArgumentError` inside a graph).

    Args:
        sequence_length: int, the output length L.
        start_value: the `[CLS]` id (an int, or a list of ids).
        end_value: the `[SEP]` id closing the last segment (int or list).
        sep_value: ids between segments; default `end_value`. RoBERTa's
            `<s> A </s></s> B </s>` is `sep_value=[2, 2]`.
        pad_value: the id at padding positions (default 0).
        truncate: `"round_robin"` or `"waterfall"`.
        on_truncation: `"report"` (default) or `"error"`.

    Call arguments:
        inputs: one segment or a tuple/list of segments. Each is a ragged
            `[B, None]` tensor, a dense `[B, T]` tensor (rows taken as full
            length) or a 1-D tensor / list (one example; outputs lose the
            batch axis). Integer ids.

    Returns:
        dict of int32 tensors: `token_ids` `[B, L]`, `segment_ids` `[B, L]`
        (i on segment i and the separator after it, 0 on `[CLS]` and on
        padding), `padding_mask` `[B, L]` (1 at real tokens, 0 at padding)
        and `num_truncated` `[B]`.

    Example:
    >>> packer = SegmentPacker(sequence_length=8, start_value=101, end_value=102)
    >>> out = packer(([1, 2, 3, 4], [11, 12, 13, 14]))
    >>> out["token_ids"].numpy().tolist()
    [101, 1, 2, 3, 102, 11, 12, 102]
    >>> out["segment_ids"].numpy().tolist(), int(out["num_truncated"])
    ([0, 0, 0, 0, 0, 1, 1, 1], 3)

    Reference:
        [Devlin et al. 2019](https://arxiv.org/abs/1810.04805), section 3.
    """

    def __init__(
        self,
        sequence_length,
        start_value,
        end_value,
        sep_value=None,
        pad_value=0,
        truncate="round_robin",
        on_truncation="report",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(sequence_length, "sequence_length")
        _check_choice(truncate, "truncate", TRUNCATION_MODES)
        _check_choice(on_truncation, "on_truncation", ON_TRUNCATION)
        self._start = _special_ids(start_value, "start_value", allow_none=False)
        self._end = _special_ids(end_value, "end_value", allow_none=False)
        self._sep = self._end if sep_value is None else _special_ids(sep_value, "sep_value", allow_none=False)
        _special_ids(pad_value, "pad_value", allow_none=False)
        _check_room(sequence_length, self._start, self._end)
        self.sequence_length = sequence_length
        self.start_value = start_value
        self.end_value = end_value
        self.sep_value = sep_value
        self.pad_value = pad_value
        self.truncate = truncate
        self.on_truncation = on_truncation

    def call(self, inputs):
        if isinstance(inputs, dict):
            raise TypeError("`inputs` must be one segment or a tuple/list of segments, got a dict.")
        # As in KerasHub: a tuple holds segments; a list holds segments only
        # when its items are tensors (a list of ints or of lists is one segment).
        if isinstance(inputs, tuple) or (
            isinstance(inputs, list) and inputs and all(_is_tensor(x) for x in inputs)
        ):
            segments = list(inputs)
        else:
            segments = [inputs]
        if not segments:
            raise ValueError("`inputs` must hold at least one segment, got an empty tuple.")
        parsed = [_as_segment(x, f"inputs[{i}]") for i, x in enumerate(segments)]
        batched = {b for _, _, b in parsed}
        if len(batched) != 1:
            raise ValueError("All segments in `inputs` must be batched ([B, None]) or all single examples (1-D).")
        needed = len(self._start) + (len(segments) - 1) * len(self._sep) + len(self._end)
        if self.sequence_length < needed:
            raise ValueError(
                f"`sequence_length`={self.sequence_length} is too small for the special tokens of "
                f"{len(segments)} segments: they need {needed} positions."
            )
        token_ids, segment_ids, padding_mask, num_truncated = _pack(
            [(v, s) for v, s, _ in parsed],
            self.sequence_length,
            self._start,
            self._sep,
            self._end,
            self.pad_value,
            self.truncate,
        )
        outputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        return self._finish(outputs, num_truncated, batched.pop())

    def compute_output_spec(self, inputs):
        first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        batch = first.shape[:1] if len(first.shape) == 2 else ()
        shape = tuple(batch) + (self.sequence_length,)
        spec = lambda s: keras.KerasTensor(s, dtype="int32")
        return {"token_ids": spec(shape), "segment_ids": spec(shape), "padding_mask": spec(shape),
                "num_truncated": spec(tuple(batch))}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "start_value": self.start_value,
                "end_value": self.end_value,
                "sep_value": self.sep_value,
                "pad_value": self.pad_value,
                "truncate": self.truncate,
                "on_truncation": self.on_truncation,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class StartEndPacker(_Packer):
    """Packs one sequence as `[start] tokens [end] [PAD]...` of fixed length.

    The content is cut to `sequence_length - len(start) - len(end)` tokens
    (from its end), so the start and end tokens are always present, as in
    KerasHub's `StartEndPacker`. The number of dropped tokens is returned as
    `num_truncated`; `on_truncation="error"` raises instead.

    Args:
        sequence_length: int, the output length L.
        start_value: optional id (or list of ids) put first.
        end_value: optional id (or list of ids) put after the content.
        pad_value: the id at padding positions (default 0).
        return_padding_mask: also return `padding_mask` (1 at real tokens).
        on_truncation: `"report"` (default) or `"error"`.

    Call arguments:
        inputs: ragged `[B, None]`, dense `[B, T]` or 1-D integer ids.

    Returns:
        dict: `token_ids` int32 `[B, L]`, `padding_mask` int32 `[B, L]` (when
        `return_padding_mask`) and `num_truncated` int32 `[B]`.

    Example:
    >>> packer = StartEndPacker(sequence_length=6, start_value=1, end_value=2)
    >>> packer([5, 6, 7])["token_ids"].numpy().tolist()
    [1, 5, 6, 7, 2, 0]
    """

    def __init__(
        self,
        sequence_length,
        start_value=None,
        end_value=None,
        pad_value=0,
        return_padding_mask=True,
        on_truncation="report",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(sequence_length, "sequence_length")
        _check_choice(on_truncation, "on_truncation", ON_TRUNCATION)
        if not isinstance(return_padding_mask, bool):
            raise TypeError(f"`return_padding_mask` must be a bool, got {return_padding_mask!r}.")
        self._start = _special_ids(start_value, "start_value")
        self._end = _special_ids(end_value, "end_value")
        _special_ids(pad_value, "pad_value", allow_none=False)
        _check_room(sequence_length, self._start, self._end)
        self.sequence_length = sequence_length
        self.start_value = start_value
        self.end_value = end_value
        self.pad_value = pad_value
        self.return_padding_mask = return_padding_mask
        self.on_truncation = on_truncation

    def call(self, inputs):
        values, splits, batched = _as_segment(inputs, "inputs")
        token_ids, _, padding_mask, num_truncated = _pack(
            [(values, splits)], self.sequence_length, self._start, (), self._end, self.pad_value, "waterfall"
        )
        outputs = {"token_ids": token_ids}
        if self.return_padding_mask:
            outputs["padding_mask"] = padding_mask
        return self._finish(outputs, num_truncated, batched)

    def compute_output_spec(self, inputs):
        batch = inputs.shape[:1] if len(inputs.shape) == 2 else ()
        shape = tuple(batch) + (self.sequence_length,)
        out = {"token_ids": keras.KerasTensor(shape, dtype="int32")}
        if self.return_padding_mask:
            out["padding_mask"] = keras.KerasTensor(shape, dtype="int32")
        out["num_truncated"] = keras.KerasTensor(tuple(batch), dtype="int32")
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "start_value": self.start_value,
                "end_value": self.end_value,
                "pad_value": self.pad_value,
                "return_padding_mask": self.return_padding_mask,
                "on_truncation": self.on_truncation,
            }
        )
        return config
