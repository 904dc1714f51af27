"""Bad input to the generic tasks, preprocessors and small models fails with a message naming
the argument (issue #17). Tiny models, built once per module."""

import keras
import numpy as np
import pytest

from kerasnlp_lite import models
from kerasnlp_lite.tokenizers import WordPieceTokenizer

SMALL = dict(num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16, dropout=0.0)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "cat", "the"]
V = 12


@pytest.fixture(scope="module")
def bert():
    return models.BertBackbone(vocabulary_size=V, max_sequence_length=8, **SMALL)


@pytest.fixture(scope="module")
def gpt():
    return models.GPTBackbone(vocabulary_size=V, max_sequence_length=8, **SMALL)


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
        models.BartBackbone(V, 1, 2, 8, 16, layer_norm_epsilon=-1.0)
    with pytest.raises(ValueError, match="`layer_norm_epsilon`"):
        models.GPTBackbone(vocabulary_size=V, max_sequence_length=8, layer_norm_epsilon=0.0, **SMALL)


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
def classifier(bert, tokenizer):
    from kerasnlp_lite.tokenizers import SegmentPacker

    preprocessor = models.TextPreprocessor(tokenizer, SegmentPacker(8, 2, 3))
    model = models.TextClassifier(bert, num_classes=3, dropout=0.0, preprocessor=preprocessor)
    model.compile()
    return model


@pytest.mark.parametrize("labels, match", [([0.5, 1.0], "integer class ids"), ([0, 1, 2], r"one row per text \(2\)")])
def test_text_classifier_fit_checks_in_memory_labels(classifier, labels, match):
    with pytest.raises(ValueError, match=f"`y`.*{match}" if "row" in match else match):
        classifier.fit(_bert_inputs(), np.array(labels), epochs=1, verbose=0)


def test_text_classifier_predict_rejects_a_list_of_ints(classifier):
    with pytest.raises(TypeError, match="`x` must be strings"):
        classifier.predict([1, 2], verbose=0)


def test_task_preprocess_rejects_a_2d_array_of_texts(classifier):
    with pytest.raises(ValueError, match=r"`texts` must be a 1-D batch of strings"):
        classifier.preprocess(np.array([["a"], ["b"]], dtype=object))


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


@pytest.mark.parametrize("ids, name", [([-1, 1, 2, 3], "target_ids"), ([1, 2, 3, V], "candidate_ids")])
def test_word2vec_ids_out_of_range(ids, name):
    model = models.Word2Vec(vocabulary_size=V, embedding_dim=4, num_negative=2)
    with pytest.raises(ValueError, match=f"`{name}` must be in \\[0, {V}\\)"):
        model({"target_ids": np.array([ids[0]], "int32"), "candidate_ids": np.array([ids[1:4]], "int32")})


def test_rnn_models_ids_out_of_range():
    keras.utils.set_random_seed(0)
    seq2seq = models.RNNSeq2Seq(vocabulary_size=V, embedding_dim=4, encoder=models.RNNEncoder(8), decoder_units=8)
    inputs = {"source_ids": np.array([[5, V, 6]], "int32"), "decoder_input_ids": np.array([[1, 7]], "int32")}
    with pytest.raises(ValueError, match=f"`source_ids` must be in \\[0, {V}\\)"):
        seq2seq(inputs)
    with pytest.raises(ValueError, match="`source_ids`"):
        seq2seq.generate(np.array([[5, V]], "int32"), max_length=2)
    bilm = models.BiLanguageModel(vocabulary_size=V, embedding_dim=4, units=4, num_layers=1)
    with pytest.raises(ValueError, match="`token_ids`"):
        bilm({"token_ids": np.array([[1, V]], "int32")})
    with pytest.raises(ValueError, match="`token_ids`"):
        bilm(np.array([[1, V]], "int32"))
