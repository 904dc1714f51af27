"""Teacher-forcing examples for encoder-decoder models.

The decoder input is the target shifted right behind the decoder start
token; the labels are the target; ground truth is fed at every position.
"""

import numpy as np


def _rows(values, name):
    if isinstance(values, np.ndarray) and values.ndim == 2:
        values = values.tolist()
    if not isinstance(values, (list, tuple)) or not values:
        raise TypeError(f"`{name}` must be a non-empty list of token-id lists, got {type(values).__name__}.")
    rows = []
    for i, row in enumerate(values):
        row = np.asarray(row).reshape(-1)
        if row.size and row.dtype.kind not in "iu":
            raise TypeError(f"`{name}[{i}]` must hold integer token ids, got dtype {row.dtype}.")
        if row.size == 0:
            raise ValueError(f"`{name}[{i}]` is empty.")
        rows.append(row.astype("int32"))
    return rows


def pad_rows(rows, length, pad_token_id, name):
    """Id rows -> right-padded `ids`, `mask` int32 `[N, length or longest]`; a longer row is an error."""
    width = max(len(r) for r in rows) if length is None else length
    too_long = [i for i, r in enumerate(rows) if len(r) > width]
    if too_long:
        raise ValueError(
            f"{len(too_long)} rows of `{name}` are longer than the sequence length {width} (first: row "
            f"{too_long[0]} with {len(rows[too_long[0]])} tokens); nothing is truncated silently: use a longer length."
        )
    ids = np.full((len(rows), width), pad_token_id, "int32")
    mask = np.zeros((len(rows), width), "int32")
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


def seq2seq_examples(
    source_ids,
    target_ids,
    decoder_start_token_id,
    end_token_id,
    pad_token_id=0,
    encoder_sequence_length=None,
    decoder_sequence_length=None,
):
    """Source and target id lists -> the four inputs of a seq2seq model and the labels.

    Args:
        source_ids: list of encoder id lists (any lengths; include the end
            token yourself where the model expects one).
        target_ids: list of target id lists; every target must end with
            `end_token_id` (the model has to learn to stop).
        decoder_start_token_id: first decoder input token.
        end_token_id: the end-of-sequence id.
        pad_token_id: padding id.
        encoder_sequence_length, decoder_sequence_length: fixed widths
            (default: the longest row). A longer row is an error.

    Returns:
        `(x, labels)`: `x` a dict of int32 arrays `encoder_token_ids`,
        `encoder_padding_mask` `[N, S]`, `decoder_token_ids` (start token, then
        the target without its last token), `decoder_padding_mask` `[N, T]`;
        `labels` `[N, T]` the padded targets. `Seq2SeqLM.fit(x, labels)`
        weights the loss by `decoder_padding_mask`.

    Example:
    >>> x, y = seq2seq_examples([[5, 6, 2]], [[6, 5, 2]], decoder_start_token_id=1, end_token_id=2)
    >>> x["decoder_token_ids"], y
    (array([[1, 6, 5]]), array([[6, 5, 2]]))
    """
    sources = _rows(source_ids, "source_ids")
    targets = _rows(target_ids, "target_ids")
    if len(sources) != len(targets):
        raise ValueError(f"`source_ids` has {len(sources)} rows but `target_ids` has {len(targets)}.")
    missing = [i for i, t in enumerate(targets) if t[-1] != end_token_id]
    if missing:
        raise ValueError(
            f"{len(missing)} targets do not end with the end token end_token_id={end_token_id} (first: row "
            f"{missing[0]}, ending in {int(targets[missing[0]][-1])}); append it so the model learns to stop."
        )
    encoder_ids, encoder_mask = pad_rows(sources, encoder_sequence_length, pad_token_id, "source_ids")
    labels, decoder_mask = pad_rows(targets, decoder_sequence_length, pad_token_id, "target_ids")
    decoder_ids = np.concatenate([np.full((len(targets), 1), decoder_start_token_id, "int32"), labels[:, :-1]], 1)
    decoder_ids = np.where(decoder_mask > 0, decoder_ids, pad_token_id).astype("int32")
    x = {
        "encoder_token_ids": encoder_ids,
        "encoder_padding_mask": encoder_mask,
        "decoder_token_ids": decoder_ids,
        "decoder_padding_mask": decoder_mask,
    }
    return x, labels


def synthetic_seq2seq_examples(task):
    """A `kerasnlp_lite.data.synthetic` task dict -> `(x, labels)` in the seq2seq input contract."""
    x = {
        "encoder_token_ids": task["source_ids"],
        "encoder_padding_mask": task["source_padding_mask"],
        "decoder_token_ids": task["decoder_input_ids"],
        "decoder_padding_mask": task["target_padding_mask"],
    }
    return x, task["target_ids"]
