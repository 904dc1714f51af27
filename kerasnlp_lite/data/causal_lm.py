"""Causal-LM examples: documents packed into fixed-length blocks (GPT).

Documents are concatenated into one token stream, each followed by `end_token_id`
if given (GPT-2's `<|endoftext|>` separator, Radford et al. 2019), and cut
into blocks of `sequence_length` with stride `sequence_length`:
block k has inputs `stream[kT : kT + T]` and labels `stream[kT + 1 : kT + T + 1]`
(the next token), so every token of the stream is a label exactly once
(except the first) and an input exactly once (except the last). Tokens
attend across document boundaries within a block, as in GPT-2 and nanoGPT;
the separator marks where a document ends.

The last block is shorter when `len(stream) - 1` is not a multiple of T: it
is padded with `pad_token_id` and its `padding_mask` is 0 there (default), or
left out and returned as `remainder` (`pad_last_block=False`). No token is
dropped silently.
"""

import tensorflow as tf

from kerasnlp_lite.utils.validation import check_id, check_positive_int, is_int


def _stream(documents_token_ids, end_token_id):
    if isinstance(documents_token_ids, tf.RaggedTensor):
        documents = documents_token_ids
    elif isinstance(documents_token_ids, tf.Tensor):
        documents = tf.RaggedTensor.from_tensor(documents_token_ids) if documents_token_ids.shape.rank == 2 else None
    else:
        documents = [list(map(_check_int_token, doc)) for doc in documents_token_ids]
        documents = tf.ragged.constant(documents, dtype=tf.int32, ragged_rank=1) if documents else None
        if documents is None:
            return tf.zeros([0], tf.int32)
    if documents is None or documents.shape.rank != 2 or not documents.dtype.is_integer:
        raise ValueError(
            "`documents_token_ids` must be a list of token id lists, or an integer ragged/dense tensor "
            f"[num_documents, None], got {documents_token_ids!r:.200}."
        )
    if end_token_id is not None:
        separator = tf.fill([documents.nrows(), 1], tf.cast(end_token_id, documents.dtype))
        documents = tf.concat([documents, separator], axis=1)
    return documents.flat_values


def _check_int_token(value):
    if not is_int(value) and not hasattr(value, "__index__"):
        raise TypeError(f"`documents_token_ids` must hold integer token ids, got {value!r} ({type(value).__name__}).")
    return int(value)


def _blocks(stream, sequence_length, pad_token_id, pad_last_block):
    """Cuts a `[N]` stream into `[num_blocks, T]` inputs/labels/padding_mask (+ remainder)."""
    total = tf.size(stream)
    num_pairs = tf.maximum(total - 1, 0)  # (input, next token) pairs
    num_full = num_pairs // sequence_length
    remainder_size = num_pairs - num_full * sequence_length
    num_blocks = num_full + int(pad_last_block) * tf.cast(remainder_size > 0, tf.int32)
    padded_size = num_blocks * sequence_length + 1
    padded = tf.concat([stream, tf.fill([tf.maximum(padded_size - total, 0)], tf.cast(pad_token_id, stream.dtype))], 0)
    inputs = tf.reshape(padded[: num_blocks * sequence_length], [num_blocks, sequence_length])
    labels = tf.reshape(padded[1 : num_blocks * sequence_length + 1], [num_blocks, sequence_length])
    padding_mask = tf.reshape(tf.range(num_blocks * sequence_length) < num_pairs, [num_blocks, sequence_length])
    # The stream's last token is a label only: pad its input slot too.
    inputs = tf.where(padding_mask, inputs, tf.cast(pad_token_id, stream.dtype))
    outputs = {"token_ids": inputs, "labels": labels, "padding_mask": padding_mask}
    if not pad_last_block:
        # Reported, not dropped: the tokens of the short last block (inputs and its final label).
        start = num_full * sequence_length
        outputs["remainder"] = stream[start : start + remainder_size + tf.cast(remainder_size > 0, tf.int32)]
    return outputs


def causal_lm_examples(documents_token_ids, sequence_length, end_token_id=None, pad_token_id=0, pad_last_block=True):
    """Packs documents into next-token-prediction blocks (eager or in a `tf.function`).

    Args:
        documents_token_ids: a list of token id lists, or an integer
            `tf.RaggedTensor` / dense tensor `[num_documents, None]`.
        sequence_length: T, the block length.
        end_token_id: optional separator appended after every document.
        pad_token_id: id written into the padding of the last block.
        pad_last_block: pad the short last block (True) or leave it out and
            return its tokens as `remainder` (False).

    Returns:
        dict with `token_ids` and `labels` int `[num_blocks, T]`,
        `padding_mask` bool `[num_blocks, T]` (True at real positions; a
        position is real exactly when it has a label), and with
        `pad_last_block=False` `remainder` int `[R]`: the short last
        block's stream tokens (its inputs plus its last label; empty if none).
    """
    check_positive_int(sequence_length, "sequence_length")
    end_token_id = check_id(end_token_id, "end_token_id", allow_none=True)
    pad_token_id = check_id(pad_token_id, "pad_token_id")
    if not isinstance(pad_last_block, bool):
        raise TypeError(f"`pad_last_block` must be a bool, got {pad_last_block!r}.")
    return _blocks(_stream(documents_token_ids, end_token_id), sequence_length, pad_token_id, pad_last_block)


def causal_lm_dataset(dataset, sequence_length, end_token_id=None, pad_token_id=0):
    """The tf.data version of `causal_lm_examples`: documents in, blocks out.

    `dataset` yields one document per element, int `[None]`. The stream is
    rebatched into chunks of T (`Dataset.rebatch`), and each chunk's labels
    are completed with the first token of the next chunk (`Dataset.scan`), so
    the output equals `causal_lm_examples(..., pad_last_block=True)` block for
    block without holding the corpus in memory.

    Returns:
        A dataset of dicts `token_ids`, `labels` int `[T]`, `padding_mask` bool `[T]`.
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"`dataset` must be a tf.data.Dataset, got {type(dataset).__name__}.")
    check_positive_int(sequence_length, "sequence_length")
    end_token_id = check_id(end_token_id, "end_token_id", allow_none=True)
    pad_token_id = check_id(pad_token_id, "pad_token_id")
    spec = dataset.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.shape.rank != 1 or not spec.dtype.is_integer:
        raise ValueError(f"`dataset` elements must be integer token ids of shape [None] (one document), got {spec}.")
    dtype = spec.dtype
    if end_token_id is not None:
        dataset = dataset.map(lambda doc: tf.concat([doc, tf.constant([end_token_id], dtype)], 0))
    chunks = dataset.map(lambda doc: tf.ensure_shape(doc, [None])).rebatch(sequence_length)
    chunks = chunks.filter(lambda c: tf.size(c) > 0)
    # An empty chunk marks the end so that the last real chunk is emitted too.
    chunks = chunks.concatenate(tf.data.Dataset.from_tensors(tf.zeros([0], dtype)))

    def step(previous, current):
        labels = tf.concat([previous[1:], current[:1]], 0)
        inputs = previous[: tf.size(labels)]
        return current, (inputs, labels)

    pairs = chunks.scan(tf.zeros([0], dtype), step).skip(1)
    pairs = pairs.filter(lambda inputs, labels: tf.size(labels) > 0)

    def pad(inputs, labels):
        missing = sequence_length - tf.size(labels)
        fill = tf.fill([missing], tf.cast(pad_token_id, dtype))
        return {
            "token_ids": tf.ensure_shape(tf.concat([inputs, fill], 0), [sequence_length]),
            "labels": tf.ensure_shape(tf.concat([labels, fill], 0), [sequence_length]),
            "padding_mask": tf.range(sequence_length) < tf.size(labels),
        }

    return pairs.map(pad)
