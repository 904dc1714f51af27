"""Train a SentencePiece model in memory (no files written).

Wraps `sentencepiece.SentencePieceTrainer.train` with `sentence_iterator`
and `model_writer`, returns the serialized model proto for
`SentencePieceTokenizer(proto)`.

On-device note: tf-text's `FastSentencepieceTokenizer` (the kernel behind
`SentencePieceTokenizer`, and the one that runs in TFLite) reproduces
`sentencepiece` exactly for unigram models but not for BPE models (see
`tests/tokenizers/test_sentence_piece_tokenizer.py` for the measured
agreement). Train `model_type="unigram"` for anything that must tokenize
identically on device.
"""

import io
import warnings

import tensorflow as tf

from kerasnlp_lite.utils.validation import is_int

MODEL_TYPES = ("unigram", "bpe")


def _iterate_texts(texts):
    if isinstance(texts, tf.data.Dataset):
        for element in texts.as_numpy_iterator():
            for value in (element if getattr(element, "ndim", 0) else [element]):
                yield value.decode("utf-8") if isinstance(value, bytes) else str(value)
        return
    for index, text in enumerate(texts):
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"`texts`[{index}] is not valid UTF-8 ({error}).") from None
        if not isinstance(text, str):
            raise TypeError(f"`texts` must contain strings, got {type(text).__name__} at index {index}.")
        yield text


def train_sentencepiece(
    texts,
    vocabulary_size,
    model_type="unigram",
    user_defined_symbols=(),
    character_coverage=1.0,
    unk_id=0,
    bos_id=1,
    eos_id=2,
    pad_id=-1,
    max_sentence_length=4192,
    **options,
):
    """Trains a SentencePiece model on `texts` in memory; returns its proto bytes.

    Deterministic: the same texts and arguments give the same bytes
    (one training thread, no sentence sampling or shuffling).

    Args:
        texts: iterable of strings (or UTF-8 bytes), or a `tf.data.Dataset`
            of scalar or 1-D strings.
        vocabulary_size: number of pieces, special ones included.
        model_type: "unigram" (Kudo, 2018) or "bpe" (Sennrich et al., 2016).
            Prefer "unigram" for on-device use (see module docstring): a
            UserWarning is issued for "bpe".
        user_defined_symbols: pieces always kept whole (e.g. "[MASK]").
        character_coverage: share of characters covered by the vocabulary
            (1.0 keeps every character seen; SentencePiece suggests 0.9995
            for languages with large character sets).
        unk_id, bos_id, eos_id, pad_id: ids of the special pieces (-1 to
            leave one out).
        max_sentence_length: longest input in bytes; longer ones are an
            error here (SentencePiece would skip them silently).
        **options: other `SentencePieceTrainer.train` options, passed through.

    Returns:
        bytes: the serialized `ModelProto`.

    Reference:
        Kudo & Richardson, 2018, "SentencePiece: A simple and language
        independent subword tokenizer and detokenizer for Neural Text
        Processing".
    """
    import sentencepiece

    if model_type not in MODEL_TYPES:
        raise ValueError(f"`model_type` must be one of {MODEL_TYPES}, got {model_type!r}.")
    if not is_int(vocabulary_size) or vocabulary_size < 4:
        raise ValueError(f"`vocabulary_size` must be an integer >= 4, got {vocabulary_size!r}.")
    if isinstance(user_defined_symbols, str):
        raise TypeError("`user_defined_symbols` must be a list of strings, got a single string.")
    symbols = list(user_defined_symbols)
    if not all(isinstance(s, str) and s for s in symbols):
        raise TypeError(f"`user_defined_symbols` must be non-empty strings, got {symbols!r}.")
    if model_type == "bpe":
        warnings.warn(
            "SentencePiece BPE models do not tokenize identically in tf-text's FastSentencepieceTokenizer "
            "(the on-device kernel) and in `sentencepiece`; use model_type='unigram' for on-device use.",
            UserWarning,
            stacklevel=2,
        )

    sentences = []
    for index, text in enumerate(_iterate_texts(texts)):
        if len(text.encode("utf-8")) > max_sentence_length:
            raise ValueError(
                f"`texts`[{index}] is {len(text.encode('utf-8'))} bytes, longer than "
                f"`max_sentence_length`={max_sentence_length}: split it or raise the limit."
            )
        sentences.append(text)
    if not any(s.strip() for s in sentences):
        raise ValueError("`texts` is empty (or only whitespace): nothing to train on.")

    model = io.BytesIO()
    settings = dict(
        vocab_size=vocabulary_size,
        model_type=model_type,
        user_defined_symbols=symbols,
        character_coverage=character_coverage,
        unk_id=unk_id,
        bos_id=bos_id,
        eos_id=eos_id,
        pad_id=pad_id,
        max_sentence_length=max_sentence_length,
        # Determinism: one thread, every sentence, in the given order.
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    settings.update(options)
    try:
        sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(sentences), model_writer=model, **settings)
    except RuntimeError as error:  # e.g. "Vocabulary size is too high"
        raise ValueError(f"SentencePiece training failed: {error}") from None
    return model.getvalue()
