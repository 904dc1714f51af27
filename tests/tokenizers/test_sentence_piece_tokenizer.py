"""SentencePieceTokenizer and train_sentencepiece against the `sentencepiece` package.

Measured facts checked here (see shared NOTES): tf-text's
FastSentencepieceTokenizer gives exactly `sentencepiece`'s ids for unigram
models, not for BPE models; detokenization agrees for both; the unigram
tokenizer gives the same ids inside TFLite.
"""

import random
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.export.tflite import convert_saved_model, make_interpreter, tflite_op_names
from kerasnlp_lite.tokenizers.sentence_piece_tokenizer import SentencePieceTokenizer
from kerasnlp_lite.tokenizers.sentence_piece_trainer import train_sentencepiece
from tests.test_case import check_config

WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "it's", "don't", "we'll", "they're",
    "café", "naïve", "résumé", "Zürich", "東京", "日本語", "😀", "C++", "e-mail", "3.14", "2024", "1,000,000",
    "...", "?!", "Ünïcödé", "ß", "ñandú", "Москва", "ελληνικά", "ﬁne", "①", "ＡＢＣ",
]
SYLLABLES = ["ka", "ro", "ti", "ng", "qu", "e", "a", "ou", "str", "x", "ph", "el", "é", "9"]
SEPARATORS = [" ", " ", " ", "  ", "\t", ", ", ". ", "; ", "\n"]


def varied_sentences(count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.6:
                parts.append(rng.choice(WORDS))
            else:
                parts.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 5))))
            parts.append(rng.choice(SEPARATORS))
        text = "".join(parts[:-1])
        if rng.random() < 0.1:
            text = " " + text + "  "
        out.append(text)
    return out


TFLITE_LENGTH = 128
TRAIN = varied_sentences(3000, seed=0)
TEST_SENTENCES = varied_sentences(400, seed=1) + ["", " ", "a" * 200, "zzzz 🦜 unseen ✓"]


@pytest.fixture(scope="module")
def unigram_proto():
    return train_sentencepiece(TRAIN, 800, model_type="unigram", user_defined_symbols=["[MASK]"])


@pytest.fixture(scope="module")
def bpe_proto():
    with pytest.warns(UserWarning, match="unigram"):
        return train_sentencepiece(TRAIN, 800, model_type="bpe")


@pytest.fixture(scope="module")
def tokenizer(unigram_proto):
    return SentencePieceTokenizer(unigram_proto)


def processor(proto):
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_proto=proto)


@pytest.fixture(scope="module")
def tflite_model(tokenizer):
    """One conversion per module: tokenize and detokenize signatures, batch size 1.

    `tokenize` returns ids padded with -1 to TFLITE_LENGTH and their count:
    the Python interpreter cannot read a zero-size output ("Invalid tensor
    size"), which an empty string would give.
    """

    class Module(tf.Module):
        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer = tokenizer

        @tf.function(input_signature=[tf.TensorSpec([1], tf.string)])
        def tokenize(self, text):
            ids = self.tokenizer.tokenize(text).flat_values
            padded = tf.concat([ids, tf.fill([TFLITE_LENGTH], -1)], axis=0)[:TFLITE_LENGTH]
            return {"token_ids": padded, "num_tokens": tf.shape(ids)[0]}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def detokenize(self, token_ids):
            ragged = tf.RaggedTensor.from_row_lengths(token_ids, tf.shape(token_ids))
            return {"text": self.tokenizer.detokenize(ragged)}

    module = Module(tokenizer)
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(
            module, tmp, signatures={"tokenize": module.tokenize, "detokenize": module.detokenize}
        )
        return convert_saved_model(tmp, signature_keys=["tokenize", "detokenize"], allow_tftext_ops=True)


def test_training_is_deterministic(unigram_proto):
    assert train_sentencepiece(TRAIN, 800, model_type="unigram", user_defined_symbols=["[MASK]"]) == unigram_proto
    other = train_sentencepiece(TRAIN[:1500], 800, model_type="unigram", user_defined_symbols=["[MASK]"])
    assert other != unigram_proto  # different data, different model: the check above can fail
    sp = processor(unigram_proto)
    assert sp.get_piece_size() == 800 and sp.piece_to_id("[MASK]") == 3


def test_unigram_ids_match_sentencepiece_exactly(tokenizer, unigram_proto):
    sp = processor(unigram_proto)
    ours = tokenizer.tokenize(TEST_SENTENCES).to_list()
    expected = [sp.encode(s) for s in TEST_SENTENCES]
    mismatches = [s for s, a, b in zip(TEST_SENTENCES, ours, expected) if a != b]
    assert not mismatches, f"{len(mismatches)}/{len(TEST_SENTENCES)} differ, e.g. {mismatches[:3]!r}"
    assert sum(len(x) for x in ours) > 4000
    assert sp.unk_id() in [i for row in ours for i in row]  # unseen characters were exercised
    texts = [t.decode() for t in tokenizer.detokenize(tf.ragged.constant(ours)).numpy()]
    assert texts == [sp.decode(ids) for ids in expected]


def test_bpe_agreement_is_partial_and_detokenize_agrees(bpe_proto):
    """FastSentencepieceTokenizer is not exact for SentencePiece BPE models (NOTES: 236/2004 lines)."""
    sp = processor(bpe_proto)
    with pytest.warns(UserWarning, match="BPE"):
        tokenizer = SentencePieceTokenizer(bpe_proto)
    assert tokenizer.model_type == "bpe"
    ours = tokenizer.tokenize(TEST_SENTENCES).to_list()
    agreement = np.mean([a == sp.encode(s) for s, a in zip(TEST_SENTENCES, ours)])
    print(f"SentencePiece BPE: FastSentencepieceTokenizer == sentencepiece on {agreement:.1%} of sentences")
    assert agreement < 0.9  # if this fails, tf-text got exact for BPE: update NOTES and the warning
    # Both tokenizations still decode to the normalized text.
    texts = [t.decode() for t in tokenizer.detokenize(tf.ragged.constant(ours)).numpy()]
    assert texts == [sp.decode(sp.encode(s)) for s in TEST_SENTENCES]


def test_detokenize_round_trip(tokenizer, unigram_proto):
    sp = processor(unigram_proto)
    # SentencePiece normalizes (NFKC, runs of spaces -> one, no leading or
    # trailing space); on already normalized text the round trip is exact.
    normalized = [s for s in TEST_SENTENCES if sp.decode(sp.encode(s)) == s and "⁇" not in s]
    assert len(normalized) > 50
    ids = tokenizer.tokenize(normalized)
    assert [t.decode() for t in tokenizer.detokenize(ids).numpy()] == normalized
    assert tokenizer.detokenize(tokenizer.tokenize("the quick fox")).numpy() == b"the quick fox"


def test_tf_data_and_tf_function(tokenizer):
    eager = tokenizer.tokenize(TEST_SENTENCES[:64]).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(TEST_SENTENCES[:64]).batch(8).map(tokenizer.tokenize)
    assert [row for batch in dataset for row in batch.to_list()] == eager
    round_trip = tf.function(lambda x: tokenizer.detokenize(tokenizer.tokenize(x)))
    direct = tokenizer.detokenize(tf.ragged.constant(eager)).numpy().tolist()
    assert round_trip(tf.constant(TEST_SENTENCES[:64])).numpy().tolist() == direct


def test_properties(tokenizer, unigram_proto):
    sp = processor(unigram_proto)
    assert tokenizer.vocabulary_size == 800 == len(tokenizer.get_vocabulary())
    assert tokenizer.get_vocabulary() == [sp.id_to_piece(i) for i in range(800)]
    assert tokenizer.unk_token == "<unk>" and tokenizer.unk_token_id == sp.unk_id() == 0
    assert tokenizer.bos_token == "<s>" and tokenizer.bos_token_id == 1
    assert tokenizer.eos_token == "</s>" and tokenizer.eos_token_id == 2
    assert tokenizer.pad_token is None and tokenizer.pad_token_id is None  # SentencePiece default: no pad
    assert tokenizer.token_to_id("[MASK]") == 3 and tokenizer.id_to_token(3) == "[MASK]"
    assert tokenizer.model_type == "unigram"
    with_pad = SentencePieceTokenizer(train_sentencepiece(TRAIN[:500], 300, pad_id=3, bos_id=-1))
    assert with_pad.pad_token_id == 3 and with_pad.pad_token == "<pad>" and with_pad.bos_token_id is None


def test_shapes_and_empty_strings(tokenizer):
    scalar = tokenizer.tokenize("the quick fox")
    assert scalar.shape.rank == 1 and scalar.dtype == tf.int32
    assert tokenizer.tokenize("").numpy().tolist() == []
    batch = tokenizer.tokenize(["", "fox", ""])
    assert isinstance(batch, tf.RaggedTensor) and batch.row_lengths().numpy().tolist()[::2] == [0, 0]
    assert tokenizer.detokenize(tf.ragged.constant([[]], dtype=tf.int32)).numpy().tolist() == [b""]


def test_config_file_and_serialization_round_trip(tokenizer, unigram_proto, tmp_path):
    check_config(SentencePieceTokenizer, dict(proto=unigram_proto))
    path = tmp_path / "model.model"
    path.write_bytes(unigram_proto)
    from_file = SentencePieceTokenizer(str(path))
    assert from_file.get_config()["proto"] == tokenizer.get_config()["proto"]  # bytes, not the path
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(from_file))
    texts = TEST_SENTENCES[:50]
    assert revived.tokenize(texts).to_list() == tokenizer.tokenize(texts).to_list()


def test_bad_inputs(tokenizer, tmp_path):
    with pytest.raises(ValueError, match="UTF-8"):
        tokenizer.tokenize([b"ok", b"\xc3\x28"])
    with pytest.raises(TypeError):
        tokenizer.tokenize(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 800\)"):
        tokenizer.detokenize([5, 800])
    with pytest.raises(ValueError, match=r"\[0, 800\)"):
        tokenizer.detokenize([[5], [-1]])
    with pytest.raises(TypeError, match="integers"):
        tokenizer.detokenize(np.array([1.0]))
    # In a graph the kernel itself refuses out-of-range ids.
    with pytest.raises(tf.errors.OpError):
        tf.function(tokenizer.detokenize)(tf.constant([5, 800]))
    with pytest.raises(ValueError, match="does not exist"):
        SentencePieceTokenizer(str(tmp_path / "missing.model"))
    with pytest.raises(ValueError, match="not a valid SentencePiece model"):
        SentencePieceTokenizer(b"not a model")
    with pytest.raises(TypeError, match="proto"):
        SentencePieceTokenizer(123)


def test_trainer_bad_inputs():
    with pytest.raises(ValueError, match="model_type"):
        train_sentencepiece(TRAIN, 100, model_type="word")
    with pytest.raises(ValueError, match="vocabulary_size"):
        train_sentencepiece(TRAIN, 2)
    with pytest.raises(ValueError, match="empty"):
        train_sentencepiece(["", "  "], 100)
    with pytest.raises(ValueError, match="UTF-8"):
        train_sentencepiece([b"\xff"], 100)
    with pytest.raises(ValueError, match="max_sentence_length"):
        train_sentencepiece(["a" * 5000], 100)
    with pytest.raises(ValueError, match="too high|training failed"):
        train_sentencepiece(["tiny text"], 5000)
    with pytest.raises(TypeError, match="user_defined_symbols"):
        train_sentencepiece(TRAIN, 100, user_defined_symbols="[MASK]")


def test_trainer_accepts_a_dataset(unigram_proto):
    dataset = tf.data.Dataset.from_tensor_slices(TRAIN).batch(100)
    assert train_sentencepiece(dataset, 800, user_defined_symbols=["[MASK]"]) == unigram_proto


def test_tflite_tokenize_and_detokenize(tflite_model, unigram_proto):
    ops = set(tflite_op_names(tflite_model))
    assert "TFText>FastSentencepieceTokenize" in ops and "TFText>FastSentencepieceDetokenize" in ops
    assert not any(op.startswith("Flex") for op in ops)
    sp = processor(unigram_proto)
    interpreter = make_interpreter(model_content=tflite_model, tftext_ops=True)
    tokenize = interpreter.get_signature_runner("tokenize")
    detokenize = interpreter.get_signature_runner("detokenize")
    mismatches = []
    for text in TEST_SENTENCES:
        # String inputs to TFLite must be bytes (NOTES).
        outputs = tokenize(text=np.array([text.encode("utf-8")]))
        assert outputs["num_tokens"] <= TFLITE_LENGTH
        ids = outputs["token_ids"][: int(outputs["num_tokens"])]
        if ids.tolist() != sp.encode(text):
            mismatches.append(text)
        decoded = detokenize(token_ids=ids.astype(np.int32))["text"]
        if decoded[0].decode("utf-8") != sp.decode(sp.encode(text)):
            mismatches.append(("detokenize", text))
    assert not mismatches, f"{len(mismatches)} differ in TFLite, e.g. {mismatches[:3]!r}"
