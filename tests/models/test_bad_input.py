"""Bad input to backbones and tasks (issue #17): ids, labels, cache indices, sources, constructor arguments.

Every test asserts the error type and that the message names the argument. The tiny models are built
once per module; nothing here converts to TFLite.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnlp_lite import models
from kerasnlp_lite.models import (
    BartBackbone,
    BartDenoiser,
    BertBackbone,
    CausalLM,
    GPTBackbone,
    Seq2SeqLM,
    T5Backbone,
    TextClassifier,
    TransformerSeq2Seq,
)
from kerasnlp_lite.tokenizers import WordPieceTokenizer

V = 40
SIZES = dict(vocabulary_size=V, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)


@pytest.fixture(scope="module")
def lm():
    keras.utils.set_random_seed(0)
    model = CausalLM(GPTBackbone(**SIZES, max_sequence_length=16, dropout=0.0))
    model.compile()
    return model


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)
    model = TextClassifier(BertBackbone(**SIZES, max_sequence_length=16), num_classes=3)
    model.compile()
    return model


@pytest.fixture(scope="module")
def seq2seq():
    keras.utils.set_random_seed(0)
    return Seq2SeqLM(TransformerSeq2Seq(**SIZES, max_sequence_length=16))


def _lm_x(ids=((1, 2, 3, 4),)):
    ids = np.asarray(ids)
    return {"token_ids": ids, "padding_mask": np.ones(ids.shape, "int32")}


def _classifier_x(segments=((0, 0, 1),)):
    segments = np.asarray(segments, "int32")
    return {"token_ids": np.ones(segments.shape, "int32"), "segment_ids": segments,
            "padding_mask": np.ones(segments.shape, "int32")}


# --- token ids at predict / call / fit / evaluate ---------------------------------------
@pytest.mark.parametrize("bad", [-1, V])
def test_out_of_range_token_ids(lm, bad):
    x = _lm_x([[1, 2, 3, bad]])
    with pytest.raises(ValueError, match=rf"`token_ids` must hold ids in \[0, {V}\).*{bad} at index \(0, 3\)"):
        lm.predict(x, verbose=0)
    with pytest.raises(ValueError, match="`token_ids`"):
        lm(x)
    with pytest.raises(ValueError, match="`token_ids`"):
        lm.backbone(x)
    with pytest.raises(ValueError, match="`token_ids`"):
        lm.evaluate(x, np.ones((1, 4), "int32"), verbose=0)


def test_float_token_ids_are_refused_not_truncated(lm):
    x = _lm_x([[1.7, 2.9, 3.0, 4.0]])
    with pytest.raises(TypeError, match="`token_ids` must hold integer ids.*float64"):
        lm.predict(x, verbose=0)
    with pytest.raises(TypeError, match="`token_ids`"):
        lm(x)


def test_segment_ids_and_class_labels(classifier):
    with pytest.raises(ValueError, match=r"`segment_ids` must hold ids in \[0, 2\)"):
        classifier.predict(_classifier_x([[0, 0, 5]]), verbose=0)
    with pytest.raises(ValueError, match=r"`y` .*\[0, 3\)"):
        classifier.fit(_classifier_x(), np.array([7]), verbose=0)
    with pytest.raises(TypeError, match="`y` must hold integer labels"):
        classifier.evaluate(_classifier_x(), np.array([1.5]), verbose=0)
    # Good data passes: the checks refuse only what is wrong.
    assert classifier.predict(_classifier_x([[0, 1, 1]]), verbose=0).shape == (1, 3)


def test_next_token_labels_out_of_range(lm):
    with pytest.raises(ValueError, match=rf"`y` must hold labels in \[0, {V}\)"):
        lm.fit(_lm_x(), np.array([[1, 2, 3, V + 1]]), verbose=0)
    with pytest.raises(ValueError, match="`y`"):  # validation data is checked too
        lm.fit(_lm_x(), np.array([[1, 2, 3, 4]]), validation_data=(_lm_x(), np.array([[1, 2, 3, -2]])), verbose=0)


def test_dataset_inputs_are_checked_in_the_pipeline(lm, classifier):
    # The assertion runs in tf.data, outside the model's (maybe XLA) graph; `fit` shares the code path.
    x = _lm_x([[1, 2, 3, V + 5]])
    with pytest.raises(ValueError, match=rf"^`token_ids` must hold ids in \[0, {V}\)"):
        lm.predict(tf.data.Dataset.from_tensor_slices(x).batch(1), verbose=0)
    bad_labels = tf.data.Dataset.from_tensor_slices((_classifier_x(), np.array([3]))).batch(1)
    with pytest.raises(ValueError, match=r"^`y` must hold ids in \[0, 3\)"):
        classifier.evaluate(bad_labels, verbose=0)
    float_ids = tf.data.Dataset.from_tensor_slices(_lm_x([[1.5, 2.0, 3.0, 4.0]])).batch(1)
    with pytest.raises(TypeError, match="`token_ids` must hold integer ids"):
        lm.predict(float_ids, verbose=0)


def test_seq2seq_decoder_ids(seq2seq):
    ids, mask = np.array([[1, 5, 2]], "int32"), np.ones((1, 3), "int32")
    x = {"encoder_token_ids": ids, "encoder_padding_mask": mask, "decoder_token_ids": ids + V,
         "decoder_padding_mask": mask}
    with pytest.raises(ValueError, match=rf"`decoder_token_ids` must hold ids in \[0, {V}\)"):
        seq2seq.predict(x, verbose=0)


# --- KV cache index ---------------------------------------------------------------------
@pytest.mark.parametrize("index", [4, 9, -1])
def test_t5_call_with_cache_refuses_an_index_outside_the_cache(index):
    t5 = T5Backbone(**SIZES, relative_attention_num_buckets=8, relative_attention_max_distance=16)
    encoder_output = t5.encode(np.array([[3, 4]]), np.ones((1, 2), "int32"))
    cache = t5.init_cache(encoder_output, np.ones((1, 2), "int32"), 4)
    t5.call_with_cache(np.array([[5]]), cache, 3)  # the last slot: fine
    with pytest.raises(ValueError, match=r"`cache_index`=-?\d+ .*cache length L=4"):
        t5.call_with_cache(np.array([[5]]), cache, index)


def test_gpt_call_with_cache_refuses_an_index_outside_the_cache(lm):
    cache = lm.backbone.init_cache(1, 4)
    with pytest.raises(ValueError, match="`cache_index`=4 .*L=4"):
        lm.backbone.call_with_cache(np.array([[5]]), cache, 4)


# --- generation from nothing ----------------------------------------------------------------
def test_seq2seq_generate_refuses_an_all_padding_source(seq2seq):
    sources = {"encoder_token_ids": np.array([[5, 6], [0, 0]]), "encoder_padding_mask": np.array([[1, 1], [0, 0]])}
    with pytest.raises(ValueError, match=r"`encoder_padding_mask` is all zeros in rows \[1\]"):
        seq2seq.generate(sources, max_length=4)


# --- constructor arguments that Keras would drop silently ------------------------------------
def test_unknown_constructor_arguments_are_refused(lm):
    bart = BartBackbone(**SIZES, max_sequence_length=16)
    with pytest.raises(TypeError, match=r"BartDenoiser got unexpected keyword argument\(s\) \['eos_id'\]"):
        BartDenoiser(bart, mask_token_id=3, eos_id=2)
    with pytest.raises(TypeError, match=r"GPTBackbone got unexpected keyword argument\(s\) \['foo'\].*dtype"):
        GPTBackbone(**SIZES, foo=1)
    with pytest.raises(TypeError, match=r"\['pad_id'\]"):
        CausalLM(lm.backbone, pad_id=0)
    # What `from_config` passes (name, trainable, dtype) still works.
    backbone = GPTBackbone.from_config(lm.backbone.get_config())
    assert backbone.name == lm.backbone.name and backbone.trainable
    task = CausalLM.from_config(lm.get_config())
    assert task.name == lm.name


# --- Bad input to the generic tasks, preprocessors and small models fails with a message naming ---

SMALL = dict(num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16, dropout=0.0)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "cat", "the"]
V_SMALL = 12


@pytest.fixture(scope="module")
def bert():
    return models.BertBackbone(vocabulary_size=V_SMALL, max_sequence_length=8, **SMALL)


@pytest.fixture(scope="module")
def gpt():
    return models.GPTBackbone(vocabulary_size=V_SMALL, max_sequence_length=8, **SMALL)


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer(VOCAB)


def _bert_inputs(batch=2, length=4):
    return {
        "token_ids": np.full((batch, length), 5, "int32"),
        "segment_ids": np.zeros((batch, length), "int32"),
        "padding_mask": np.ones((batch, length), "int32"),
    }


# --- backbone kind --------------------------------------------------------------


@pytest.mark.parametrize("task", [lambda b: models.TextClassifier(b, num_classes=2), models.BertPretrainer,
                                  models.RobertaPretrainer])
def test_encoder_tasks_reject_a_decoder_backbone(gpt, task):
    with pytest.raises(TypeError, match="`backbone`.*encoder.*GPTBackbone.*pooled_output"):
        task(gpt)


def test_causal_lm_rejects_an_encoder_backbone(bert):
    with pytest.raises(TypeError, match="`backbone`.*decoder-only.*BertBackbone.*call_with_cache"):
        models.CausalLM(bert)


def test_seq2seq_lm_rejects_a_decoder_only_backbone(gpt):
    with pytest.raises(TypeError, match="`backbone`.*encoder-decoder.*GPTBackbone"):
        models.Seq2SeqLM(gpt)


# --- constructor flags and ids ----------------------------------------------------


def test_bool_flags(bert):
    with pytest.raises(TypeError, match="`normalize` must be True or False"):
        models.TextEmbedder(bert, normalize="yes")
    with pytest.raises(TypeError, match="`next_sentence` must be True or False"):
        models.BertPretrainer(bert, next_sentence="yes")


def test_backbone_layer_norm_epsilon():
    with pytest.raises(ValueError, match="`layer_norm_epsilon` must be a float > 0"):
        models.BartBackbone(V_SMALL, 1, 2, 8, 16, layer_norm_epsilon=-1.0)
    with pytest.raises(ValueError, match="`layer_norm_epsilon`"):
        models.GPTBackbone(vocabulary_size=V_SMALL, max_sequence_length=8, layer_norm_epsilon=0.0, **SMALL)


def test_masked_lm_preprocessor_rates(tokenizer):
    with pytest.raises(ValueError, match=r"`mask_rate \+ random_rate` must be <= 1"):
        models.MaskedLMPreprocessor(tokenizer, 8, mask_token_id=4, mask_rate=0.8, random_rate=0.5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(end_token_id=-1), "`end_token_id`"),
    (dict(end_token_id=3, decoder_sequence_length=0), "`decoder_sequence_length`"),
    (dict(end_token_id=3, pad_token_id=len(VOCAB)), "`pad_token_id`"),
])
def test_seq2seq_preprocessor_arguments(tokenizer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.Seq2SeqPreprocessor(tokenizer, decoder_start_token_id=2, **kwargs)


def test_text_preprocessor_rejects_a_string_packer(tokenizer):
    with pytest.raises(TypeError, match="`packer` must be a `SegmentPacker`"):
        models.TextPreprocessor(tokenizer, packer="round_robin")


def test_causal_lm_preprocessor_warns_on_truncation(tokenizer):
    preprocessor = models.CausalLMPreprocessor(tokenizer, sequence_length=3)
    with pytest.warns(UserWarning, match=r"1 of 2 texts were truncated.*\(up to 1 tokens dropped\)"):
        preprocessor(np.array(["the cat", "the cat a b cat"]))


# --- TextClassifier fit / predict, Task.preprocess ---------------------------------------


@pytest.fixture(scope="module")
def text_classifier(bert, tokenizer):
    from kerasnlp_lite.tokenizers import SegmentPacker

    preprocessor = models.TextPreprocessor(tokenizer, SegmentPacker(8, 2, 3))
    model = models.TextClassifier(bert, num_classes=3, dropout=0.0, preprocessor=preprocessor)
    model.compile()
    return model


@pytest.mark.parametrize("labels, match", [([0.5, 1.0], "integer class ids"), ([0, 1, 2], r"one row per text \(2\)")])
def test_text_classifier_fit_checks_in_memory_labels(text_classifier, labels, match):
    with pytest.raises(ValueError, match=f"`y`.*{match}" if "row" in match else match):
        text_classifier.fit(_bert_inputs(), np.array(labels), epochs=1, verbose=0)


def test_text_classifier_predict_rejects_a_list_of_ints(text_classifier):
    with pytest.raises(TypeError, match="`x` must be strings"):
        text_classifier.predict([1, 2], verbose=0)


def test_task_preprocess_rejects_a_2d_array_of_texts(text_classifier):
    with pytest.raises(ValueError, match=r"`texts` must be a 1-D batch of strings"):
        text_classifier.preprocess(np.array([["a"], ["b"]], dtype=object))


# --- metrics, LoRA, word2vec and RNN models -----------------------------------------------


def test_perplexity_label_out_of_range_and_weight_shape():
    logits = np.zeros((1, 2, 5), "float32")
    with pytest.raises(ValueError, match=r"`y_true`.*\[0, 5\)"):
        models.Perplexity().update_state(np.array([[0, 5]]), logits)
    with pytest.raises(ValueError, match=r"`sample_weight` must have the shape of `y_true` \(1, 2\)"):
        models.Perplexity().update_state(np.array([[0, 1]]), logits, sample_weight=np.ones((1, 3)))
    metric = models.Perplexity()
    metric.update_state(np.array([[0, 1]]), logits, sample_weight=np.ones((1, 2)))
    np.testing.assert_allclose(float(metric.result()), 5.0, rtol=1e-5)  # uniform over 5 tokens


def test_has_lora_rejects_a_string():
    with pytest.raises(TypeError, match="`model` must be a Keras model"):
        models.has_lora("model")


@pytest.mark.parametrize("ids, name", [([-1, 1, 2, 3], "target_ids"), ([1, 2, 3, V_SMALL], "candidate_ids")])
def test_word2vec_ids_out_of_range(ids, name):
    model = models.Word2Vec(vocabulary_size=V_SMALL, embedding_dim=4, num_negative=2)
    with pytest.raises(ValueError, match=f"`{name}` must be in \\[0, {V_SMALL}\\)"):
        model({"target_ids": np.array([ids[0]], "int32"), "candidate_ids": np.array([ids[1:4]], "int32")})


def test_rnn_models_ids_out_of_range():
    keras.utils.set_random_seed(0)
    seq2seq = models.RNNSeq2Seq(vocabulary_size=V_SMALL, embedding_dim=4, encoder=models.RNNEncoder(8), decoder_units=8)
    inputs = {"source_ids": np.array([[5, V_SMALL, 6]], "int32"), "decoder_input_ids": np.array([[1, 7]], "int32")}
    with pytest.raises(ValueError, match=f"`source_ids` must be in \\[0, {V_SMALL}\\)"):
        seq2seq(inputs)
    with pytest.raises(ValueError, match="`source_ids`"):
        seq2seq.generate(np.array([[5, V_SMALL]], "int32"), max_length=2)
    bilm = models.BiLanguageModel(vocabulary_size=V_SMALL, embedding_dim=4, units=4, num_layers=1)
    with pytest.raises(ValueError, match="`token_ids`"):
        bilm({"token_ids": np.array([[1, V_SMALL]], "int32")})
    with pytest.raises(ValueError, match="`token_ids`"):
        bilm(np.array([[1, V_SMALL]], "int32"))


def test_backbone_predict_checks_in_memory_ids(classifier):
    backbone = classifier.backbone
    x = _classifier_x([[0, 0, 0]])
    x["token_ids"] = x["token_ids"].copy()
    x["token_ids"][0, 1] = backbone.vocabulary_size
    with pytest.raises(ValueError, match="`token_ids` must hold ids in"):
        backbone.predict(x, verbose=0)
