"""Raw strings in `fit`, `evaluate` and `predict` for every task, the KerasHub way, and bad text input."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite.models import (
    BertBackbone,
    BertPretrainer,
    CausalLM,
    CausalLMPreprocessor,
    GPTBackbone,
    MaskedLMPreprocessor,
    Seq2SeqLM,
    Seq2SeqPreprocessor,
    TextClassifier,
    TextEmbedder,
    TextPreprocessor,
    TokenClassifier,
    TransformerSeq2Seq,
)
from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.tokenizers import SegmentPacker, WordPieceTokenizer

WORDS = "the a cat dog sat ran on mat log big small red blue".split()
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + ["."]
TINY = dict(vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64)


def _texts(n, seed=0):
    """Six random words; label 1 when "cat" is among them."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, 6)) for _ in range(n)]
    return texts, np.array([int("cat" in t.split()) for t in texts], "int32")


def _tokenizer():
    return WordPieceTokenizer(VOCABULARY)


def _preprocessor(sequence_length):
    tokenizer = _tokenizer()
    return TextPreprocessor(tokenizer, SegmentPacker(sequence_length, tokenizer.cls_token_id, tokenizer.sep_token_id))


def _classifier(num_classes=2, sequence_length=16):
    backbone = BertBackbone(**TINY, max_sequence_length=16, dropout=0.0)
    model = TextClassifier(backbone, num_classes, dropout=0.0, preprocessor=_preprocessor(sequence_length))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model


@pytest.fixture(scope="module")
def trained_classifier():
    """The one classifier of this module, fitted once (sequence length 16: room for sentence pairs).

    Its `train_function` / `test_function` / `predict_function` are traced here and reused by the tests below,
    which would otherwise each build, compile and trace a model of their own.
    """
    keras.utils.set_random_seed(0)
    model = _classifier()
    texts, labels = _texts(256)
    before = model.evaluate(texts, labels, verbose=0)[0]
    history = model.fit(texts, labels, batch_size=16, epochs=4, verbose=0, validation_split=0.25)
    return model, before, history


@pytest.fixture
def scratch_classifier(trained_classifier):
    """The module's trained classifier, for a test that fits it further: its weights are restored afterwards."""
    model = trained_classifier[0]
    weights = model.get_weights()
    yield model
    model.set_weights(weights)


def test_classifier_learns_from_a_list_of_strings(trained_classifier):
    model, before, history = trained_classifier
    held_out, held_out_labels = _texts(128, seed=1)
    loss, accuracy = model.evaluate(held_out, held_out_labels, verbose=0)
    assert loss < before and accuracy >= 0.9, (before, loss, accuracy)
    assert "val_loss" in history.history  # validation_split works on strings


def test_every_text_form_gives_the_same_evaluation(trained_classifier):
    # One model, one reference; every form is evaluated against it (batches of 8 throughout, one traced step).
    model = trained_classifier[0]
    texts, labels = _texts(40, seed=2)
    reference = model.evaluate(texts, labels, batch_size=8, verbose=0)
    weights = np.ones(len(texts), "float32")
    forms = {
        "numpy": lambda: model.evaluate(np.array(texts), labels, batch_size=8, verbose=0),
        "tensor": lambda: model.evaluate(tf.constant(texts), tf.constant(labels), batch_size=8, verbose=0),
        "bytes": lambda: model.evaluate([t.encode() for t in texts], list(labels), batch_size=8, verbose=0),
        "dataset_batched": lambda: model.evaluate(
            tf.data.Dataset.from_tensor_slices((texts, labels)).batch(8), verbose=0),
        "dataset_unbatched": lambda: model.evaluate(
            tf.data.Dataset.from_tensor_slices((texts, labels)), batch_size=8, verbose=0),
        "dataset_with_weights": lambda: model.evaluate(
            tf.data.Dataset.from_tensor_slices((texts, labels, weights)).batch(8), verbose=0),
    }
    for form, evaluate in forms.items():
        np.testing.assert_allclose(evaluate(), reference, rtol=1e-5, err_msg=form)
    predictions = model.predict(texts[:5], verbose=0)
    np.testing.assert_allclose(model.predict(tf.data.Dataset.from_tensor_slices(texts[:5]).batch(2), verbose=0),
                               predictions, atol=1e-6)


def test_fit_on_a_dataset_and_sentence_pairs(scratch_classifier):
    model = scratch_classifier
    keras.utils.set_random_seed(1)
    texts, labels = _texts(64)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).shuffle(64, seed=0).batch(16)
    model.fit(dataset, epochs=1, verbose=0)
    # Pairs: a tuple of two batches of strings is one example of two segments each.
    history = model.fit((texts, texts[::-1]), labels, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    pairs = model.preprocess((texts[:2], texts[2:4]))
    assert set(np.unique(pairs["segment_ids"])) == {0, 1}
    assert model.predict((texts[:3], texts[3:6]), verbose=0).shape == (3, 2)
    pair_dataset = tf.data.Dataset.from_tensor_slices(((texts, texts[::-1]), labels)).batch(16)
    model.evaluate(pair_dataset, verbose=0)


@pytest.mark.parametrize(
    "x, y, message",
    [
        ([], [], r"`x` is empty"),
        (["a cat", 3], [0, 1], r"`x` mixes strings and other values: `x\[1\]` is int"),
        (["a cat", None], [0, 1], r"`x\[1\]` is None"),
        (["a cat", "the dog"], [0, 5], r"class ids outside \[0, 2\) \(num_classes=2\): \[5\]"),
        (["a cat", "the dog"], [0, -1], r"class ids outside \[0, 2\)"),
        (["a cat", "the dog"], [0.5, 1], r"integer class ids"),
        (["a cat", "the dog"], [0], r"one row per text \(2\)"),
        (["a cat", "the dog"], ["x", "y"], r"`y` must hold integer class ids"),
        ((["a cat"], ["a", "b"]), [0], r"segments of `x` must have one length"),
    ],
)
def test_bad_text_input_is_a_value_error_naming_the_argument(trained_classifier, x, y, message):
    model = trained_classifier[0]
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.evaluate(x, y, verbose=0)


def test_bad_labels_in_a_dataset_name_num_classes(trained_classifier):
    model = trained_classifier[0]
    dataset = tf.data.Dataset.from_tensor_slices((["a cat", "the dog"], [0, 7])).batch(2)
    with pytest.raises(Exception, match="num_classes=2"):
        model.evaluate(dataset, verbose=0)


def test_strings_without_a_preprocessor_and_unsupported_targets():
    model = TextClassifier(BertBackbone(**TINY, max_sequence_length=16), 2)
    model.compile()
    with pytest.raises(ValueError, match="has no `preprocessor`"):
        model.fit(["a cat"], [0], verbose=0)
    with pytest.raises(ValueError, match="has no `preprocessor`"):
        model.predict(["a cat"], verbose=0)
    tagger = TokenClassifier(BertBackbone(**TINY, max_sequence_length=16), 3, preprocessor=_preprocessor(10))
    tagger.compile()
    with pytest.raises(ValueError, match="cannot align per-token labels"):
        tagger.fit(["a cat"], [[0, 1]], verbose=0)


def test_truncation_in_fit_is_reported(scratch_classifier):
    # 15 and 20 word pieces plus [CLS] and [SEP]: longer than the sequence length of 16.
    texts = [" ".join(["a cat sat on the mat ."] * 2 + ["a"]), " ".join(["the big dog ran ."] * 4)]
    with pytest.warns(UserWarning, match="2 of 2 texts are longer than the preprocessor's sequence length"):
        scratch_classifier.fit(texts, [1, 0], verbose=0)


def test_masked_lm_from_raw_text_masks_anew_every_epoch():
    tokenizer = _tokenizer()
    preprocessor = MaskedLMPreprocessor(tokenizer, 10, mask_token_id=tokenizer.mask_token_id,
                                        start_token_id=tokenizer.cls_token_id, end_token_id=tokenizer.sep_token_id,
                                        selection_rate=0.3, seed=3)
    pretrainer = BertPretrainer(BertBackbone(**TINY, max_sequence_length=16), next_sentence=False,
                                preprocessor=preprocessor)
    texts, _ = _texts(8)
    dataset = text_inputs.preprocessed_dataset(pretrainer, tf.data.Dataset.from_tensor_slices(texts).batch(8))
    (first,), (second,) = [[x["token_ids"].numpy() for x, _, _ in dataset] for _ in range(2)]
    assert not np.array_equal(first, second)  # dynamic masking: new masks in each pass
    x, y, w = next(iter(dataset))
    masked = np.asarray(x["mask_positions"])
    # Targets are the original ids at the masked positions; [CLS]/[SEP]/[PAD] are never selected.
    original = np.asarray(preprocessor.packer(tokenizer(tf.constant(texts)))["token_ids"])
    for row in range(8):
        real = np.asarray(w["mlm_logits"][row]) > 0
        assert np.array_equal(np.asarray(y["mlm_logits"][row])[real], original[row][masked[row][real]])
        assert not set(original[row][masked[row][real]]) & {0, 2, 3}
    keras.utils.set_random_seed(0)
    pretrainer.compile(optimizer=keras.optimizers.Adam(3e-3))
    texts, _ = _texts(128)
    before = pretrainer.evaluate(texts, verbose=0)
    pretrainer.fit(texts, batch_size=16, epochs=2, verbose=0)
    assert pretrainer.evaluate(texts, verbose=0) < before
    with pytest.raises(ValueError, match="takes texts alone"):
        pretrainer.fit(texts, np.zeros(128, "int32"), verbose=0)


def test_pretrainer_with_next_sentence_takes_pairs_and_labels():
    tokenizer = _tokenizer()
    preprocessor = MaskedLMPreprocessor(tokenizer, 16, mask_token_id=tokenizer.mask_token_id,
                                        start_token_id=tokenizer.cls_token_id, end_token_id=tokenizer.sep_token_id)
    pretrainer = BertPretrainer(BertBackbone(**TINY, max_sequence_length=16), preprocessor=preprocessor)
    pretrainer.compile()
    texts, labels = _texts(32)
    history = pretrainer.fit((texts, texts[::-1]), labels, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="needs sentence pairs"):
        pretrainer.fit(texts, verbose=0)


def test_causal_lm_from_raw_text():
    tokenizer = WordPieceTokenizer(VOCABULARY + ["</s>"])
    end = tokenizer.token_to_id("</s>")
    preprocessor = CausalLMPreprocessor(tokenizer, sequence_length=8, end_token_id=end)
    x, y, w = preprocessor.training_batch(tf.constant(["the cat sat", "a dog"]))
    np.testing.assert_array_equal(x["token_ids"][0], [5, 7, 9, end, 0, 0, 0, 0])
    np.testing.assert_array_equal(y[0], [7, 9, end, 0, 0, 0, 0, 0])  # the next token at every position
    np.testing.assert_array_equal(w[0], [1, 1, 1, 0, 0, 0, 0, 0])
    keras.utils.set_random_seed(0)
    lm = CausalLM(GPTBackbone(**dict(TINY, vocabulary_size=len(VOCABULARY) + 1), max_sequence_length=16),
                  preprocessor=preprocessor)
    lm.compile(optimizer=keras.optimizers.Adam(3e-3))
    texts = ["the cat sat on the mat .", "the dog ran on the log ."] * 32
    before = lm.evaluate(texts, verbose=0)[0]
    lm.fit(texts, batch_size=16, epochs=3, verbose=0)
    assert lm.evaluate(texts, verbose=0)[0] < before
    # Text in, text out: the prompt is tokenized, continued greedily and detokenized.
    ids = lm.generate([[5, 7]], max_length=6)["token_ids"][0].tolist()
    assert lm.generate("the cat", max_length=6) == " ".join(VOCABULARY[i] for i in ids)
    with pytest.raises(ValueError, match="makes its own labels"):
        lm.fit(texts, np.zeros(64), verbose=0)


def test_seq2seq_lm_from_source_and_target_strings():
    tokenizer = WordPieceTokenizer(["[PAD]", "</s>", "[UNK]"] + WORDS, cls_token=None, sep_token=None,
                                   mask_token=None)
    preprocessor = Seq2SeqPreprocessor(tokenizer, end_token_id=1, decoder_start_token_id=0)
    sources = [" ".join(np.random.default_rng(i).choice(WORDS, 3)) for i in range(64)]
    targets = [" ".join(s.split()[::-1]) for s in sources]
    # The tf.data path gives the eager `examples`' arrays.
    x, labels = preprocessor.examples(sources[:4], targets[:4])
    xb, yb, wb = preprocessor.training_batch((tf.constant(sources[:4]), tf.constant(targets[:4])))
    for key in x:
        np.testing.assert_array_equal(x[key], xb[key])
    np.testing.assert_array_equal(labels, yb)
    keras.utils.set_random_seed(0)
    backbone = TransformerSeq2Seq(vocabulary_size=tokenizer.vocabulary_size, num_layers=1, num_heads=2,
                                  hidden_dim=32, intermediate_dim=64, max_sequence_length=16, dropout=0.0)
    lm = Seq2SeqLM(backbone, end_token_id=1, decoder_start_token_id=0, pad_token_id=0, preprocessor=preprocessor)
    lm.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = lm.evaluate(sources, targets, verbose=0)[0]
    lm.fit(sources, targets, batch_size=16, epochs=1, verbose=0)
    lm.fit({"encoder_text": sources, "decoder_text": targets}, batch_size=16, verbose=0)
    lm.fit(tf.data.Dataset.from_tensor_slices((sources, targets)).batch(16), verbose=0)
    assert lm.evaluate(sources, targets, verbose=0)[0] < before
    with pytest.raises(ValueError, match="sources and targets"):
        lm.fit(sources, verbose=0)


def test_embedder_fits_to_target_vectors_from_text():
    tokenizer = _tokenizer()
    packer = SegmentPacker(10, tokenizer.cls_token_id, tokenizer.sep_token_id)
    embedder = TextEmbedder(BertBackbone(**TINY, max_sequence_length=16), preprocessor=TextPreprocessor(tokenizer, packer))
    embedder.compile(optimizer=keras.optimizers.Adam(3e-3), loss="cosine_similarity")
    texts, labels = _texts(64)
    targets = np.eye(32, dtype="float32")[labels]
    before = embedder.evaluate(texts, targets, verbose=0)
    embedder.fit(texts, targets, batch_size=16, epochs=3, verbose=0)
    assert embedder.evaluate(texts, targets, verbose=0) < before


@pytest.mark.slow
def test_saved_task_opens_with_plain_keras_in_a_fresh_process(trained_classifier, tmp_path):
    """`import kerasnlp_lite` then `keras.saving.load_model`: the classes, the tokenizer and the optimizer load."""
    from kerasnlp_lite.training import AdamW

    model = trained_classifier[0]
    model.compile(optimizer=AdamW(learning_rate=1e-3))
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    texts = ["a cat sat on the mat", "the big dog ran"]
    # One eager call on the loaded preprocessor's output, no `predict`: nothing to trace in the fresh process
    # (strings in `predict` are checked above); the loaded tokenizer still turns the raw strings into ids.
    expected = np.asarray(model(model.preprocess(texts)))
    script = textwrap.dedent(
        f"""
        import json, kerasnlp_lite, keras, numpy
        model = keras.saving.load_model({path!r})
        print(json.dumps({{"optimizer": type(model.optimizer).__name__,
                           "out": numpy.asarray(model(model.preprocess({texts!r}))).tolist()}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["optimizer"] == "AdamW"
    np.testing.assert_allclose(loaded["out"], expected, atol=1e-5)
