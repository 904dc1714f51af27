"""Learning a WordPiece vocabulary from text, in memory.

Words are split exactly as `WordPieceTokenizer` splits them (same normalizer
model, same whitespace split), then counted, and tf-text's WordPiece
vocabulary learner (`tensorflow_text.tools.wordpiece_vocab`, the
bottom-up/top-down algorithm used for BERT's vocabularies) picks the pieces:
it binary-searches a count threshold so that the vocabulary lands within
`slack_ratio` below `vocabulary_size`, and always keeps every allowed
character as a piece (both as a word start and as "##c"), so text made of
the corpus's characters never needs the unknown token.
"""

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from kerasnlp_lite.tokenizers._bert_normalizer import build_normalizer_model
from kerasnlp_lite.tokenizers.tokenizer import check_valid_utf8
from kerasnlp_lite.utils.validation import is_int

DEFAULT_RESERVED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _batches(texts_or_dataset):
    """Yields 1-D tf.string batches from a list of strings or a tf.data.Dataset."""
    if isinstance(texts_or_dataset, tf.data.Dataset):
        spec = texts_or_dataset.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string or spec.shape.rank not in (0, 1):
            raise TypeError(
                "`texts_or_dataset` must be a dataset of scalar strings or [B] string batches, "
                f"got element_spec {spec}."
            )
        dataset = texts_or_dataset.batch(1024) if spec.shape.rank == 0 else texts_or_dataset
        yield from dataset
        return
    if isinstance(texts_or_dataset, (str, bytes)) or not hasattr(texts_or_dataset, "__iter__"):
        raise TypeError(
            "`texts_or_dataset` must be a list of strings or a tf.data.Dataset of strings, "
            f"got {type(texts_or_dataset).__name__}."
        )
    texts = list(texts_or_dataset)
    bad = [type(t).__name__ for t in texts if not isinstance(t, (str, bytes))]
    if bad:
        raise TypeError(f"`texts_or_dataset` must contain strings, got {bad[:3]}.")
    for start in range(0, len(texts), 1024):
        yield tf.constant(texts[start : start + 1024], dtype=tf.string)


def train_wordpiece_vocabulary(
    texts_or_dataset,
    vocabulary_size,
    reserved_tokens=DEFAULT_RESERVED_TOKENS,
    lowercase=True,
    strip_accents=None,
    suffix_indicator="##",
    max_token_length=50,
    max_unique_chars=1000,
    slack_ratio=0.05,
    num_iterations=4,
):
    """Learns a WordPiece vocabulary for `WordPieceTokenizer`.

    Args:
        texts_or_dataset: a list of strings or a `tf.data.Dataset` of scalar
            strings or `[B]` string batches.
        vocabulary_size: the maximum vocabulary size, reserved tokens included.
        reserved_tokens: tokens placed first, in this order (ids 0..n-1).
        lowercase, strip_accents: as in `WordPieceTokenizer`; use the same
            values there.
        suffix_indicator: prefix of word-internal pieces.
        max_token_length: longer words are not counted.
        max_unique_chars: the alphabet size cap; words with rarer characters
            are not counted (their characters then map to the unknown token).
        slack_ratio: the learned size is in
            `[vocabulary_size * (1 - slack_ratio), vocabulary_size]` when the
            corpus allows it.
        num_iterations: refinement iterations of the learner.

    Returns:
        A list of token strings: `reserved_tokens`, then the learned pieces.

    Raises:
        ValueError: on an empty corpus, invalid UTF-8, duplicate reserved
            tokens, or a `vocabulary_size` that leaves no room after them.
    """
    reserved_tokens = list(reserved_tokens)
    if any(not isinstance(t, str) or not t for t in reserved_tokens):
        raise TypeError(f"`reserved_tokens` must be non-empty strings, got {reserved_tokens!r}.")
    if len(set(reserved_tokens)) != len(reserved_tokens):
        raise ValueError(f"`reserved_tokens` has duplicates: {reserved_tokens!r}.")
    if not is_int(vocabulary_size):
        raise TypeError(f"`vocabulary_size` must be an integer, got {vocabulary_size!r}.")
    if vocabulary_size <= len(reserved_tokens):
        raise ValueError(
            f"`vocabulary_size` ({vocabulary_size}) must be larger than the number of reserved tokens "
            f"({len(reserved_tokens)})."
        )
    if not isinstance(lowercase, bool) or (strip_accents is not None and not isinstance(strip_accents, bool)):
        raise TypeError("`lowercase` must be a bool and `strip_accents` None or a bool.")

    effective_strip = lowercase if strip_accents is None else strip_accents
    normalizer = tf_text.FastBertNormalizer(model_buffer=build_normalizer_model(lowercase, effective_strip))
    splitter = tf_text.WhitespaceTokenizer()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def split_words(batch):
        return splitter.tokenize(normalizer.normalize(batch)).flat_values

    def words():
        for batch in _batches(texts_or_dataset):
            batch = tf.reshape(batch, [-1])
            check_valid_utf8(batch, "texts_or_dataset")
            yield split_words(batch).numpy()

    try:
        counts = learner.count_words(words())
    except StopIteration:  # the learner reads one word to check its type
        counts = {}
    # Reserved tokens are added by the learner, never learned from the text.
    for token in reserved_tokens:
        counts.pop(token, None)
    if not counts:
        raise ValueError("`texts_or_dataset` holds no words (empty corpus or only whitespace/control characters).")
    vocabulary = learner.learn(
        counts,
        vocab_size=vocabulary_size,
        reserved_tokens=reserved_tokens,
        # A low bound lets the threshold search reach small corpora.
        lower_thresh=1,
        num_iterations=num_iterations,
        max_token_length=max_token_length,
        max_unique_chars=max_unique_chars,
        slack_ratio=slack_ratio,
        include_joiner_token=True,  # learn "##"-prefixed suffix pieces
        joiner=suffix_indicator,
    )
    return list(vocabulary)[:vocabulary_size]
