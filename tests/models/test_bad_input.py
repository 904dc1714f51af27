"""Bad input to backbones and tasks (issue #17): ids, labels, cache indices, sources, constructor arguments.

Every test asserts the error type and that the message names the argument. The tiny models are built
once per module; nothing here converts to TFLite.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

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
    with pytest.raises(ValueError, match=r"`y` must hold labels in \[0, 3\)"):
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
