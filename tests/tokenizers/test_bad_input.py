"""Bad and hostile text for the three tokenizers (issue #17 item 5), fuzzed with hypothesis.

Per tokenizer, what must hold on any input:
- byte-level BPE is lossless on arbitrary bytes (NUL, control characters,
  invalid UTF-8 such as an encoded surrogate b"\\xed\\xa0\\x80"):
  `detokenize(tokenize(x)) == x`, with the same ids eagerly and in a graph;
- WordPiece and SentencePiece refuse invalid UTF-8 with an error naming
  `inputs`, eagerly (ValueError) and in graphs / tf.data (InvalidArgumentError),
  never an unknown token in silence; on valid text they lose nothing: every
  word of WordPiece's reference normalization comes back as itself or [UNK],
  and SentencePiece gives the `sentencepiece` package's own ids.
- a Python string holding an unpaired surrogate is a ValueError naming `inputs`.

Examples are few (`max_examples` below) and derandomized, so the file costs a
few seconds and a CI failure reproduces.
"""

import os
import string

import pytest
import tensorflow as tf
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kerasnlp_lite.tokenizers import ByteBPETokenizer, SentencePieceTokenizer, WordPieceTokenizer

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
pytestmark = pytest.mark.slow  # about 20 s of CPU in all (graph tracing, the WordPiece normalizer build)
FUZZ = settings(max_examples=15, deadline=None, derandomize=True)
# Every printable ASCII character, alone and as a word-internal piece: any ASCII word splits into pieces, and a
# small vocabulary keeps the tokenizer quick to build. Other characters become [UNK].
ASCII_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "fox"] + [
    piece for c in string.printable.strip() for piece in (c, "##" + c)
]

# Bytes that are not UTF-8: a lone surrogate (CESU-8), overlong "/", a code point above U+10FFFF, truncated
# sequences, stray continuation and invalid lead bytes.
INVALID_UTF8 = [b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"caf\xc3", b"\x80", b"\xff", b"\xe4\xb8 x"]
CONTROLS = "".join(chr(c) for c in range(32)) + "\x7f\x85\u200b\ufeff"

# Text: any code point except surrogates (Python cannot encode those), with NUL and controls made common.
texts = st.text(st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(CONTROLS)), max_size=60)
# Bytes: random bytes, valid text, and valid text with a NUL or invalid sequences spliced in.
raw_bytes = st.one_of(
    st.binary(max_size=40),
    texts.map(str.encode),
    st.tuples(texts, st.sampled_from(INVALID_UTF8 + [b"\x00"]), texts).map(lambda t: t[0].encode() + t[1] + t[2].encode()),
)


def _graph(tokenizer):
    """`tokenizer.tokenize` as a graph on a `[None]` batch (as in tf.data): ragged ids, as lists."""
    function = tf.function(tokenizer.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    return lambda batch: function(tf.constant(batch)).to_list()


@pytest.fixture(scope="module")
def bpe():
    tokenizer = ByteBPETokenizer(os.path.join(DATA, "tiny_gpt2", "vocab.json"), os.path.join(DATA, "tiny_gpt2", "merges.txt"))
    return tokenizer, _graph(tokenizer)


@pytest.fixture(scope="module")
def bpe_special():
    """Special token strings in the text map to their ids (the `tokenizers` package's added tokens)."""
    return ByteBPETokenizer(os.path.join(DATA, "tiny_gpt2", "vocab.json"), os.path.join(DATA, "tiny_gpt2", "merges.txt"),
                            special_tokens={"eos": "<|endoftext|>"}, special_tokens_in_strings=True)


@pytest.fixture(scope="module")
def sentence_piece():
    import sentencepiece

    path = os.path.join(DATA, "tiny_t5", "spiece.model")
    reference = sentencepiece.SentencePieceProcessor(model_file=path)
    tokenizer = SentencePieceTokenizer(path)
    return tokenizer, _graph(tokenizer), reference


@pytest.fixture(scope="module")
def word_piece():
    tokenizer = WordPieceTokenizer(ASCII_VOCAB)  # uncased: lower-cases and strips accents
    return tokenizer, _graph(tokenizer)


def _is_valid_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# --- byte-level BPE: lossless on any bytes --------------------------------------------
@FUZZ
@given(batch=st.lists(raw_bytes, min_size=1, max_size=8))
def test_byte_bpe_round_trips_any_bytes(bpe, batch):
    tokenizer, graph = bpe
    ids = tokenizer.tokenize(batch)
    assert tokenizer.detokenize(ids).numpy().tolist() == batch
    assert graph(batch) == ids.to_list()  # the same ids in a graph (tf.data)


@settings(FUZZ, max_examples=10)
@given(batch=st.lists(st.tuples(raw_bytes, raw_bytes), min_size=1, max_size=6))
@example(batch=[(b"hello\x00world foo", b"\xed\xa0\x80")])
def test_byte_bpe_with_special_tokens_in_strings_round_trips_any_bytes(bpe_special, batch):
    # Its special-token split runs on tf-text's regex_split, which alone would stop at a NUL byte.
    texts = [left + b"<|endoftext|>" + right for left, right in batch]
    ids = bpe_special.tokenize(texts)
    assert bpe_special.detokenize(ids).numpy().tolist() == texts
    assert all(row.count(bpe_special.eos_token_id) >= 1 for row in ids.to_list())


def test_byte_bpe_keeps_text_after_nul_and_invalid_bytes_in_tf_data(bpe):
    tokenizer, _ = bpe
    inputs = [b"hello\x00world foo", b"\xed\xa0\x80x", b"ab\xffcd", b"a" * 20000 + b"\x00" + b"b" * 20000]
    dataset = tf.data.Dataset.from_tensor_slices(inputs).map(tokenizer.tokenize).map(tokenizer.detokenize)
    assert [text.numpy() for text in dataset] == inputs


# --- WordPiece and SentencePiece: invalid UTF-8 is a clear error everywhere ----------------
@FUZZ
@given(data=raw_bytes)
def test_utf8_kernels_refuse_invalid_utf8(word_piece, sentence_piece, data):
    valid = _is_valid_utf8(data)
    for tokenizer, graph in (word_piece, sentence_piece[:2]):
        if valid:
            assert graph([data]) == [tokenizer.tokenize(data).numpy().tolist()]
            continue
        with pytest.raises(ValueError, match=r"`inputs`\[0\] is not valid UTF-8"):
            tokenizer.tokenize(data)
        with pytest.raises(tf.errors.InvalidArgumentError, match="`inputs` must be valid UTF-8"):
            graph([b"fine", data])


def test_utf8_kernels_refuse_invalid_utf8_in_tf_data(word_piece, sentence_piece):
    for tokenizer in (word_piece[0], sentence_piece[0]):
        dataset = tf.data.Dataset.from_tensor_slices([b"fine text", b"bad \xed\xa0\x80 surrogate"]).map(tokenizer)
        with pytest.raises(tf.errors.InvalidArgumentError, match="`inputs` must be valid UTF-8.*bad \ufffd"):
            list(dataset)


# --- WordPiece: every word accounted for ------------------------------------------------
def _bert_words(text):
    """BERT's basic tokenization of ASCII text (google-research/bert tokenization.py): control characters
    deleted, lower-cased, split on whitespace and around each punctuation character."""
    kept = "".join(c for c in text if c in "\t\n\r" or not (ord(c) < 32 or ord(c) == 127))
    spaced = "".join(f" {c} " if c in string.punctuation else c for c in kept.lower())
    return spaced.split()


@FUZZ
@given(text=st.text(st.sampled_from(string.printable + CONTROLS[:32] + "\x7f"), max_size=80))
def test_word_piece_accounts_for_every_word(word_piece, text):
    tokenizer, _ = word_piece
    words = tokenizer.detokenize(tokenizer.tokenize(text)).numpy().decode("utf-8").split()
    expected = _bert_words(text)
    assert len(words) == len(expected), (words, expected)
    assert all(word in (want, "[UNK]") for word, want in zip(words, expected)), (words, expected)


@FUZZ
@given(text=texts)
def test_word_piece_eager_and_graph_agree_on_any_text(word_piece, text):
    tokenizer, graph = word_piece
    assert graph([text.encode()]) == [tokenizer.tokenize(text).numpy().tolist()]


# --- SentencePiece: the reference's ids ---------------------------------------------------
@FUZZ
@given(text=texts)
def test_sentence_piece_matches_the_reference_on_any_text(sentence_piece, text):
    tokenizer, graph, reference = sentence_piece
    ids = tokenizer.tokenize(text).numpy().tolist()
    assert ids == reference.encode(text)
    assert graph([text.encode()]) == [ids]
    assert tokenizer.detokenize(ids).numpy().decode("utf-8") == reference.decode(ids)


# --- all three ------------------------------------------------------------------------------
def test_unpaired_surrogates_are_a_clear_error(bpe, sentence_piece, word_piece):
    for tokenizer in (bpe[0], sentence_piece[0], word_piece[0]):
        with pytest.raises(ValueError, match=r"`inputs` holds an unpaired surrogate U\+D800 at character 1"):
            tokenizer.tokenize("a\ud800b")
        with pytest.raises(ValueError, match=r"`inputs`\[1\] holds an unpaired surrogate U\+DCFF"):
            tokenizer.tokenize(["fine", b"x\xff".decode("utf-8", "surrogateescape")])


def test_long_inputs_lose_nothing(bpe, sentence_piece, word_piece):
    text = ("The quick brown fox, naïve café \x00 日本語 " * 1000)[:30000]
    assert bpe[0].detokenize(bpe[0].tokenize(text)).numpy().decode("utf-8") == text
    tokenizer, _, reference = sentence_piece
    assert tokenizer.tokenize(text).numpy().tolist() == reference.encode(text)
    words = word_piece[0].detokenize(word_piece[0].tokenize(text)).numpy().decode("utf-8").split()
    # Accents stripped; each CJK character a word of its own, which this ASCII vocabulary lacks.
    plain = text.replace("ï", "i").replace("é", "e").replace("日本語", " 日 本 語 ")
    assert words == [word if word.isascii() else "[UNK]" for word in _bert_words(plain)]


def test_sentencepiece_detokenize_out_of_range_in_a_graph_names_ids(sentence_piece):
    tokenizer = sentence_piece[0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="`ids` must be token ids"):
        tf.function(tokenizer.detokenize)(tf.constant([[1, tokenizer.vocabulary_size]]))
