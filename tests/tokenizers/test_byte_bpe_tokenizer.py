"""ByteBPETokenizer against the `tokenizers` package (test-only reference).

A byte-level BPE is trained with `tokenizers` (ByteLevel pre-tokenizer, the
GPT-2 regex) on generated text; its vocab.json / merges.txt are read by
ByteBPETokenizer, which must give the very same ids on 400+ varied sentences.
"""

import json
import random

import keras
import pytest
import tensorflow as tf

from kerasnlp_lite.tokenizers.byte_bpe_tokenizer import ByteBPETokenizer, bytes_to_unicode
from tests.test_case import check_config

WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "it's", "don't", "we'll", "they're", "I'm",
    "you've", "he'd", "'s", "café", "naïve", "résumé", "Zürich", "東京", "日本語", "北京", "😀", "🎉👍", "C++",
    "e-mail", "3.14", "2024", "1,000,000", "...", "?!", "--", "Ünïcödé", "ß", "ñandú", "Москва", "ελληνικά",
    "عربى", "हिन्दी६", "x\x1cy", "½", "Ⅻ",
]
SYLLABLES = ["ka", "ro", "ti", "ng", "qu", "e", "a", "ou", "str", "x", "ph", "el", "é", "ü", "9"]
SEPARATORS = [" ", "  ", "   ", "\n", "\t", " \n ", "\n\n", " \t", "\u3000", "\xa0", "\x85", ", ", ". ", "; ", "\r\n"]


def varied_sentences(count, seed):
    """Sentences with contractions, space runs, leading/trailing spaces, tabs, newlines, digits,
    punctuation runs, accents, CJK, emoji and other Unicode whitespace."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for j in range(rng.randint(1, 12)):
            if rng.random() < 0.6:
                parts.append(rng.choice(WORDS))
            else:
                parts.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 5))))
            parts.append(rng.choice(SEPARATORS))
        text = "".join(parts[:-1])
        r = rng.random()
        if r < 0.1:
            text += rng.choice([" ", "  ", "\n", "\t "])
        elif r < 0.2:
            text = rng.choice([" ", "  ", "\n"]) + text
        elif r < 0.25:
            text += "!!!???"
        out.append(text)
    return out


EDGE_CASES = ["", " ", "   ", "\n", "a  b", "a \n b", "it's  'll", "x\x85\x85y", "\u3000\u3000a", "a" * 300]
TEST_SENTENCES = varied_sentences(400, seed=1) + EDGE_CASES


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(HF tokenizer, vocab.json path, merges.txt path), trained once per module."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    hf.train_from_iterator(varied_sentences(3000, seed=0), trainer)
    folder = tmp_path_factory.mktemp("bpe")
    vocab_path, merges_path = hf.model.save(str(folder))
    assert hf.get_vocab_size() == 1000
    return hf, vocab_path, merges_path


@pytest.fixture(scope="module")
def tokenizer(reference):
    _, vocab_path, merges_path = reference
    return ByteBPETokenizer(vocab_path, merges_path, special_tokens={"eos": "<|endoftext|>"})


def test_bytes_to_unicode_matches_gpt2():
    table = bytes_to_unicode()
    assert len(set(table)) == 256
    assert table[ord("A")] == "A" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"
    assert not any(c.isspace() for c in table)


def test_ids_match_tokenizers_package(reference, tokenizer):
    hf = reference[0]
    ours = tokenizer.tokenize(TEST_SENTENCES).to_list()
    mismatches = [s for s, ids in zip(TEST_SENTENCES, ours) if ids != hf.encode(s).ids]
    assert not mismatches, f"{len(mismatches)} of {len(TEST_SENTENCES)} differ, e.g. {mismatches[:3]!r}"
    assert sum(len(ids) for ids in ours) > 5000  # the comparison is not vacuous
    # A second call goes through the cache of merged words and must agree.
    assert tokenizer.tokenize(TEST_SENTENCES).to_list() == ours


def test_add_prefix_space_matches_tokenizers_package(reference):
    from tokenizers import pre_tokenizers

    hf, vocab_path, merges_path = reference
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    try:
        expected = [hf.encode(s).ids for s in TEST_SENTENCES[:200] + EDGE_CASES]
    finally:
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer = ByteBPETokenizer(vocab_path, merges_path, add_prefix_space=True)
    assert tokenizer.tokenize(TEST_SENTENCES[:200] + EDGE_CASES).to_list() == expected


def test_special_tokens_in_strings_matches_tokenizers_package(reference):
    hf, vocab_path, merges_path = reference
    texts = ["a<|endoftext|>b", "<|endoftext|>", " x <|endoftext|> y<|endoftext|><|endoftext|>", "\n<|endoftext|> z"]
    tokenizer = ByteBPETokenizer(
        vocab_path, merges_path, special_tokens={"eos": "<|endoftext|>"}, special_tokens_in_strings=True
    )
    assert tokenizer.tokenize(texts).to_list() == [hf.encode(s).ids for s in texts]
    # Off by default: the text is split into bytes like any other.
    plain = ByteBPETokenizer(vocab_path, merges_path, special_tokens={"eos": "<|endoftext|>"})
    assert tokenizer.eos_token_id not in plain.tokenize("<|endoftext|>").numpy().tolist()


def test_detokenize_round_trips_exactly(tokenizer):
    ids = tokenizer.tokenize(TEST_SENTENCES)
    texts = [t.decode("utf-8") for t in tokenizer.detokenize(ids).numpy()]
    assert texts == TEST_SENTENCES
    assert tokenizer.detokenize(tokenizer.tokenize("héllo 東京 😀")).numpy().decode() == "héllo 東京 😀"


@pytest.mark.slow
def test_tf_data_and_tf_function(tokenizer):
    eager = tokenizer.tokenize(TEST_SENTENCES[:64]).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(TEST_SENTENCES[:64]).batch(8).map(tokenizer.tokenize)
    assert [row for batch in dataset for row in batch.to_list()] == eager
    unbatched = tf.data.Dataset.from_tensor_slices(TEST_SENTENCES[:16]).map(tokenizer.tokenize)
    assert [x.numpy().tolist() for x in unbatched] == eager[:16]

    @tf.function
    def round_trip(texts):
        return tokenizer.detokenize(tokenizer.tokenize(texts))

    assert [t.decode() for t in round_trip(tf.constant(TEST_SENTENCES[:64])).numpy()] == TEST_SENTENCES[:64]


def test_properties(reference, tokenizer):
    hf = reference[0]
    assert tokenizer.vocabulary_size == 1000
    assert tokenizer.get_vocabulary()[:5] == [hf.id_to_token(i) for i in range(5)]
    assert tokenizer.token_to_id("Ġthe") == hf.token_to_id("Ġthe")
    assert tokenizer.id_to_token(hf.token_to_id("Ġthe")) == "Ġthe"
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.eos_token_id == hf.token_to_id("<|endoftext|>")
    assert tokenizer.bos_token is None and tokenizer.bos_token_id is None
    assert tokenizer.special_token_ids == {"eos": hf.token_to_id("<|endoftext|>")}
    with pytest.raises(KeyError):
        tokenizer.token_to_id("not-a-token")
    with pytest.raises(ValueError):
        tokenizer.id_to_token(1000)


def test_shapes_and_empty_strings(tokenizer):
    scalar = tokenizer.tokenize("hello world")
    assert scalar.shape.rank == 1 and scalar.dtype == tf.int32
    assert tokenizer.tokenize("").numpy().tolist() == []
    batch = tokenizer.tokenize(["", "a", ""])
    assert isinstance(batch, tf.RaggedTensor) and batch.row_lengths().numpy().tolist() == [0, 1, 0]
    assert tokenizer.detokenize(tf.ragged.constant([[], [5]], dtype=tf.int32)).numpy().tolist()[0] == b""


def test_config_and_serialization_round_trip(reference, tokenizer):
    hf, vocab_path, merges_path = reference
    vocabulary = json.load(open(vocab_path, encoding="utf-8"))
    merges = open(merges_path, encoding="utf-8").read().split("\n")
    check_config(
        ByteBPETokenizer,
        dict(vocabulary=vocabulary, merges=merges, add_prefix_space=True, unknown_token=None,
             special_tokens={"eos": "<|endoftext|>"}, special_tokens_in_strings=True),
    )
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(tokenizer))
    assert isinstance(revived, ByteBPETokenizer)
    texts = TEST_SENTENCES[:50]
    assert revived.tokenize(texts).to_list() == tokenizer.tokenize(texts).to_list()


@pytest.mark.slow
def test_unknown_symbols(tmp_path):
    # A vocabulary without the bytes of "é": an error unless unknown_token is set.
    vocabulary = {c: i for i, c in enumerate(["<unk>", "a", "b", "ab", "Ġ"])}
    merges = ["a b"]
    tokenizer = ByteBPETokenizer(vocabulary, merges)
    assert tokenizer.tokenize("ab a").numpy().tolist() == [3, 4, 1]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tokenizer.tokenize("abé")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tokenizer.tokenize(["ab", "é"])
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.function(tokenizer.tokenize)(tf.constant(["abé"]))
    with_unk = ByteBPETokenizer(vocabulary, merges, unknown_token="<unk>")
    # "é" is two bytes: two unknown symbols, each its own <unk> (as `tokenizers` does).
    assert with_unk.tokenize("abé").numpy().tolist() == [3, 0, 0]
    assert with_unk.unk_token_id == 0


def test_bad_inputs(reference, tokenizer, tmp_path):
    _, vocab_path, merges_path = reference
    # Byte-level BPE is lossless on any bytes: invalid UTF-8 is kept, not refused (test_bad_input.py fuzzes it).
    assert tokenizer.detokenize(tokenizer.tokenize([b"ok", b"\xff\xfe"])).numpy().tolist() == [b"ok", b"\xff\xfe"]
    with pytest.raises(TypeError):
        tokenizer.tokenize([1, 2])
    with pytest.raises(ValueError, match="shape"):
        tokenizer.tokenize(tf.constant([["a"]]))
    with pytest.raises(ValueError, match=r"\[0, 1000\)"):
        tokenizer.detokenize([1, 1000])
    with pytest.raises(ValueError, match=r"\[0, 1000\)"):
        tokenizer.detokenize([[1], [-1]])
    with pytest.raises(TypeError, match="integers"):
        tokenizer.detokenize([1.5])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        tf.function(tokenizer.detokenize)(tf.constant([1, 1000]))
    with pytest.raises(ValueError, match="does not exist"):
        ByteBPETokenizer(str(tmp_path / "missing.json"), merges_path)
    with pytest.raises(ValueError, match="does not exist"):
        ByteBPETokenizer(vocab_path, str(tmp_path / "missing.txt"))
    bad_merges = tmp_path / "merges.txt"
    bad_merges.write_text("#version: 0.2\nĠ t\nzz qq\n", encoding="utf-8")
    with pytest.raises(ValueError, match="does not match `vocabulary`"):
        ByteBPETokenizer(vocab_path, str(bad_merges))
    with pytest.raises(ValueError, match="two tokens"):
        ByteBPETokenizer(vocab_path, ["Ġ t h"])
    with pytest.raises(ValueError, match="ids must be exactly"):
        ByteBPETokenizer({"a": 0, "b": 2}, [])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        ByteBPETokenizer(vocab_path, merges_path, special_tokens={"bos": "<s>"})
    with pytest.raises(ValueError, match="role"):
        ByteBPETokenizer(vocab_path, merges_path, special_tokens={"start": "<|endoftext|>"})
