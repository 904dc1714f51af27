"""Sentence-pair objectives: BERT next-sentence prediction and ALBERT sentence order.

These run in Python before tf.data (they need random access to other
documents), seeded with `random.Random(seed)`, so the same seed gives the same
pairs. Documents are lists of sentences; a sentence is a string or a list of
token ids. `documents` may be any iterable, including a generator; it is read
once into memory. Feed the pairs to tf.data with `sentence_pairs_dataset`
(built on `Dataset.from_generator`), then tokenize / pack with `SegmentPacker`.

Label convention (BERT's `is_random_next`, create_pretraining_data.py, where
`next_sentence_labels = 1 if is_random_next else 0`; HF's BERT uses the same):
  - NSP: label 0 = B is the sentence that follows A (IsNext), 1 = B is a
    random sentence from another document (NotNext).
  - SOP: label 0 = the two consecutive segments in order, 1 = swapped
    (ALBERT's create_pretraining_data.py sets `is_random_next` when swapping).
"""

import random

import tensorflow as tf

from kerasnlp_lite.utils.validation import is_int, is_number


def _read_documents(documents, name="documents"):
    if isinstance(documents, (str, bytes)):
        raise TypeError(f"`{name}` must be an iterable of documents (lists of sentences), got a string.")
    try:
        documents = [list(doc) if not isinstance(doc, (str, bytes)) else None for doc in documents]
    except TypeError:
        raise TypeError(f"`{name}` must be an iterable of documents (lists of sentences).") from None
    kinds = set()
    for doc in documents:
        if doc is None:
            raise TypeError(f"Each document in `{name}` must be a list of sentences, got a bare string.")
        for sentence in doc:
            if isinstance(sentence, str):
                kinds.add("text")
            elif isinstance(sentence, (list, tuple)) and all(
                isinstance(t, int) and not isinstance(t, bool) for t in sentence
            ):
                kinds.add("ids")
            else:
                raise TypeError(f"Sentences in `{name}` must be strings or lists of int token ids, got {sentence!r:.80}.")
    if len(kinds) > 1:
        raise TypeError(f"Sentences in `{name}` must be all strings or all token id lists, not a mix.")
    return documents


def _check_seed(seed):
    if not is_int(seed):
        raise TypeError(f"`seed` must be an int, got {seed!r}.")


def _check_probability(value, name):
    if not is_number(value):
        raise TypeError(f"`{name}` must be a float in [0, 1], got {value!r}.")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`{name}` must be in [0, 1], got {value}.")


def next_sentence_pairs(documents, seed, random_next_probability=0.5):
    """BERT NSP pairs: each sentence A with its next sentence, or a random one.

    For every pair of consecutive sentences (A, next) of a document, with
    probability `random_next_probability` (0.5 in BERT) B is a uniformly
    chosen sentence of a uniformly chosen *other* document (label 1),
    otherwise B is the next sentence (label 0). A document with one sentence
    yields no pair of its own (it has no next sentence) but can supply random
    sentences. BERT's `create_pretraining_data.py` also groups several
    sentences into each segment up to a token budget; here a segment is one
    sentence.

    Args:
        documents: iterable of documents, each a list of sentences.
        seed: int.
        random_next_probability: in [0, 1].

    Returns:
        list of dicts `{"first", "second", "label"}` in document order.

    Raises:
        ValueError: fewer than two non-empty documents (no other document to
            draw a random sentence from).
    """
    _check_seed(seed)
    _check_probability(random_next_probability, "random_next_probability")
    documents = _read_documents(documents)
    non_empty = [i for i, doc in enumerate(documents) if doc]
    if len(non_empty) < 2:
        raise ValueError(f"`documents` needs at least 2 non-empty documents for random next sentences, got {len(non_empty)}.")
    rng = random.Random(seed)
    pairs = []
    for index, doc in enumerate(documents):
        for position in range(len(doc) - 1):
            if rng.random() < random_next_probability:
                other = index
                while other == index:  # BERT retries until the document differs
                    other = non_empty[rng.randrange(len(non_empty))]
                second, label = documents[other][rng.randrange(len(documents[other]))], 1
            else:
                second, label = doc[position + 1], 0
            pairs.append({"first": doc[position], "second": second, "label": label})
    return pairs


def sentence_order_pairs(documents, seed, swap_probability=0.5):
    """ALBERT SOP pairs: two consecutive sentences, swapped with probability 0.5.

    Args:
        documents: iterable of documents, each a list of sentences.
        seed: int.
        swap_probability: in [0, 1].

    Returns:
        list of dicts `{"first", "second", "label"}`; label 1 = swapped.

    Reference: Lan et al. 2020, "ALBERT", section 3.1 (inter-sentence coherence loss).
    """
    _check_seed(seed)
    _check_probability(swap_probability, "swap_probability")
    documents = _read_documents(documents)
    rng = random.Random(seed)
    pairs = []
    for doc in documents:
        for position in range(len(doc) - 1):
            first, second = doc[position], doc[position + 1]
            label = int(rng.random() < swap_probability)
            if label:
                first, second = second, first
            pairs.append({"first": first, "second": second, "label": label})
    return pairs


def sentence_pairs_dataset(pairs):
    """A `tf.data.Dataset` of the pairs from `next_sentence_pairs` / `sentence_order_pairs`.

    Elements are dicts: `first`, `second` (tf.string scalars, or int32
    `[None]` for token id sentences) and `label` (int32 scalar).
    """
    if not isinstance(pairs, (list, tuple)):
        raise TypeError(f"`pairs` must be a list of pair dicts, got {type(pairs).__name__}.")
    if not pairs:
        raise ValueError("`pairs` is empty.")
    text = isinstance(pairs[0]["first"], str)
    sentence_spec = tf.TensorSpec([], tf.string) if text else tf.TensorSpec([None], tf.int32)
    spec = {"first": sentence_spec, "second": sentence_spec, "label": tf.TensorSpec([], tf.int32)}
    return tf.data.Dataset.from_generator(lambda: iter(pairs), output_signature=spec)
