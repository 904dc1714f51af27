"""Census cases: backbones, tasks, preprocessors, RNN / word2vec models, model utilities."""

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite import models
from tests.census.harness import Case, warned, warns_about
from tests.census.shared import LENGTH, MAX_LEN, V

IDS = "ids out of range"
CACHE = "cache_index"
NAN = "NaN at padding"
ARG = "argument"
SHAPE = "shape/dtype"
TEXT = "text input"


def _bad(s, **changes):
    inputs = s.encoder_inputs()
    for name, (row, col, value) in changes.items():
        inputs[name][row, col] = value
    return inputs


def _predict(model, inputs, jit=False):
    model.jit_compile = jit
    try:
        return model.predict(inputs, verbose=0)
    finally:
        model.jit_compile = False


def _gpt_cache(s, index, length=8):
    cache = s.gpt.init_cache(1, length)
    return s.gpt.call_with_cache(np.array([[5]], "int32"), cache, index)


def _t5_cache(s, index):
    inputs = s.seq2seq_inputs(batch=1)
    encoded = s.t5({k: v for k, v in inputs.items()})["encoder_sequence_output"]
    cache = s.t5.init_cache(encoded, inputs["encoder_padding_mask"], 6)
    return s.t5.call_with_cache(np.array([[5]], "int32"), cache, index)


def _fit(model, x, y, **kwargs):
    model.compile(optimizer="adam", **kwargs)
    return model.fit(x, y, epochs=1, verbose=0, batch_size=2)


def _classifier_fit(s, labels):
    model = models.TextClassifier(s.bert, num_classes=3, dropout=0.0)
    return _fit(model, s.encoder_inputs(), np.array(labels))


def _token_classifier_fit(s, labels):
    labels = np.zeros((2, LENGTH), "int32") + np.array(labels, "int32")[:, None]
    return _fit(s.token_classifier, s.encoder_inputs(), labels)


def _rnn_seq2seq(**kwargs):
    encoder = models.RNNEncoder(8)
    return models.RNNSeq2Seq(vocabulary_size=V, embedding_dim=4, encoder=encoder, decoder_units=8, **kwargs)


def _rnn_inputs(source_value=5):
    return {"source_ids": np.array([[5, source_value, 6]], "int32"), "decoder_input_ids": np.array([[1, 7]], "int32")}


def _bilm(**kwargs):
    return models.BiLanguageModel(vocabulary_size=V, embedding_dim=4, units=4, num_layers=1, **kwargs)


def _word2vec_call(ids):
    model = models.Word2Vec(vocabulary_size=V, embedding_dim=4, num_negative=2)
    return model({"target_ids": np.array([ids[0]], "int32"), "candidate_ids": np.array([ids[1:4]], "int32")})


def _embedder_all_padding(s):
    inputs = s.encoder_inputs(batch=1)
    inputs["padding_mask"][:] = 0
    return s.embedder(inputs)


def _classifier_texts(s, texts):
    return s.classifier.predict(texts, verbose=0)


def _perplexity(y_true, y_pred, sample_weight=None):
    metric = models.Perplexity()
    metric.update_state(np.asarray(y_true), np.asarray(y_pred), sample_weight=sample_weight)
    return float(metric.result())


def cases():
    C = Case
    cases = [
        # Backbone constructors (one shared check) and calls.
        C("models.BertBackbone", "hidden_dim=10, num_heads=4",
          lambda s: models.BertBackbone(V, 1, 4, 10, 16, max_sequence_length=MAX_LEN)),
        C("models.BertBackbone", "vocabulary_size=0", lambda s: models.BertBackbone(0, 1, 2, 8, 16)),
        C("models.BertBackbone", "dropout=1.0", lambda s: models.BertBackbone(V, 1, 2, 8, 16, dropout=1.0)),
        C("models.BertBackbone", "num_segments=-1", lambda s: models.BertBackbone(V, 1, 2, 8, 16, num_segments=-1)),
        C("models.BertBackbone", "token id == V (eager)", lambda s: s.bert(_bad(s, token_ids=(0, 1, V))), kind=IDS),
        C("models.BertBackbone", "token id -1 (eager)", lambda s: s.bert(_bad(s, token_ids=(1, 2, -1))), kind=IDS),
        C("models.BertBackbone", "token id == V in predict (graph)",
          lambda s: _predict(s.bert, _bad(s, token_ids=(0, 1, V))), kind=IDS),
        C("models.BertBackbone", "token id == V in predict with jit_compile=True",
          lambda s: _predict(s.bert, _bad(s, token_ids=(0, 1, V)), jit=True), kind=IDS),
        C("models.BertBackbone", "token id -1 in predict with jit_compile=True",
          lambda s: _predict(s.bert, _bad(s, token_ids=(0, 1, -1)), jit=True), kind=IDS),
        C("models.BertBackbone", "float token ids", lambda s: s.bert(
            dict(s.encoder_inputs(), token_ids=s.encoder_inputs()["token_ids"].astype("float32"))), kind=IDS),
        C("models.BertBackbone", "segment id 2 with num_segments=2 (eager)",
          lambda s: s.bert(_bad(s, segment_ids=(0, 1, 2))), kind=IDS),
        C("models.BertBackbone", "segment id 2 in predict (graph)",
          lambda s: _predict(s.bert, _bad(s, segment_ids=(0, 1, 2))), kind=IDS),
        C("models.BertBackbone", "segment id 2 in predict with jit_compile=True",
          lambda s: _predict(s.bert, _bad(s, segment_ids=(0, 1, 2)), jit=True), kind=IDS),
        C("models.BertBackbone", f"{MAX_LEN + 1} tokens, max_sequence_length={MAX_LEN}",
          lambda s: s.bert(s.encoder_inputs(length=MAX_LEN + 1)), kind=SHAPE),
        C("models.BertBackbone", "padding_mask of another length",
          lambda s: s.bert(dict(s.encoder_inputs(), padding_mask=np.ones((2, 5), "int32"))), kind=SHAPE),
        C("models.BertBackbone", "inputs without `segment_ids`",
          lambda s: s.bert({k: v for k, v in s.encoder_inputs().items() if k != "segment_ids"}), kind=SHAPE),
        C("models.BertBackbone", "a bare ids array instead of the input dict",
          lambda s: s.bert(s.encoder_inputs()["token_ids"]), kind=SHAPE),
        C("models.AlbertBackbone", "embedding_dim=0",
          lambda s: models.AlbertBackbone(V, 1, 2, 8, 16, embedding_dim=0)),
        C("models.AlbertBackbone", "num_groups=3 with num_layers=2",
          lambda s: models.AlbertBackbone(V, 2, 2, 8, 16, embedding_dim=4, num_groups=3)),
        C("models.AlbertBackbone", "token id == V (eager)", lambda s: s.albert(_bad(s, token_ids=(0, 0, V))), kind=IDS),
        C("models.AlbertBackbone", "token id == V in predict", lambda s: _predict(s.albert, _bad(s, token_ids=(0, 0, V))),
          kind=IDS),
        C("models.RobertaBackbone", "pad_token_id=V", lambda s: models.RobertaBackbone(V, 1, 2, 8, 16, pad_token_id=V)),
        C("models.RobertaBackbone", "token id == V (eager)",
          lambda s: s.roberta({k: v for k, v in _bad(s, token_ids=(0, 2, V)).items() if k != "segment_ids"}), kind=IDS),
        C("models.RobertaBackbone", f"{MAX_LEN} tokens (positions offset by pad_token_id + 1)",
          lambda s: s.roberta({k: v for k, v in s.encoder_inputs(length=MAX_LEN).items() if k != "segment_ids"}),
          kind=SHAPE, expect="error naming max_sequence_length, or finite output",
          check=lambda out: np.isfinite(np.asarray(out["sequence_output"])).all()),
        C("models.GPTBackbone", "intermediate_dim=0", lambda s: models.GPTBackbone(10, 1, 2, 8, 0)),
        C("models.GPTBackbone", "token id == V (eager)",
          lambda s: s.gpt({"token_ids": np.array([[1, s.sp_size]]), "padding_mask": np.ones((1, 2), "int32")}),
          kind=IDS),
        C("models.GPTBackbone", "token id == V in predict",
          lambda s: _predict(s.gpt, {"token_ids": np.array([[1, s.sp_size]]), "padding_mask": np.ones((1, 2))}),
          kind=IDS),
        C("models.GPTBackbone.init_cache", "max_length=0", lambda s: s.gpt.init_cache(1, 0)),
        C("models.GPTBackbone.init_cache", "max_length > max_sequence_length", lambda s: s.gpt.init_cache(1, 64)),
        C("models.GPTBackbone.call_with_cache", "cache_index == L", lambda s: _gpt_cache(s, 8), kind=CACHE),
        C("models.GPTBackbone.call_with_cache", "cache_index -1", lambda s: _gpt_cache(s, -1), kind=CACHE),
        C("models.GPTBackbone.call_with_cache", "cache_index == L as a tensor in a tf.function",
          lambda s: tf.function(lambda i: _gpt_cache(s, i))(tf.constant(8)), kind=CACHE),
        C("models.GPTBackbone.call_with_cache", "token id == V",
          lambda s: s.gpt.call_with_cache(np.array([[s.sp_size]]), s.gpt.init_cache(1, 8), 0), kind=IDS),
        C("models.T5Backbone", "key_dim=0", lambda s: models.T5Backbone(V, 1, 2, 8, 16, key_dim=0)),
        C("models.T5Backbone", "encoder token id == V",
          lambda s: s.t5(s.seq2seq_inputs(encoder_ids=[[1, 2, V]], decoder_ids=[[1, 2]])), kind=IDS),
        C("models.T5Backbone", "decoder token id -1",
          lambda s: s.t5(s.seq2seq_inputs(encoder_ids=[[1, 2, 3]], decoder_ids=[[1, -1]])), kind=IDS),
        C("models.T5Backbone", "encoder token id == V in predict",
          lambda s: _predict(s.t5, s.seq2seq_inputs(encoder_ids=[[1, 2, V]], decoder_ids=[[1, 2]])), kind=IDS),
        C("models.T5Backbone.call_with_cache", "cache_index == L", lambda s: _t5_cache(s, 6), kind=CACHE),
        C("models.T5Backbone.call_with_cache", "cache_index -1", lambda s: _t5_cache(s, -1), kind=CACHE),
        C("models.Seq2SeqBackbone.init_cache", "max_length=0",
          lambda s: s.t5.init_cache(np.zeros((1, 3, 8), "float32"), np.ones((1, 3), "int32"), 0)),
        C("models.Seq2SeqBackbone.init_cache", "encoder_padding_mask of another length",
          lambda s: s.t5.init_cache(np.zeros((1, 3, 8), "float32"), np.ones((1, 5), "int32"), 4), kind=SHAPE),
        C("models.BartBackbone", "decoder length > max_sequence_length",
          lambda s: s.bart(s.seq2seq_inputs(batch=1, target=MAX_LEN + 2)), kind=SHAPE),
        C("models.BartBackbone", "encoder token id == V",
          lambda s: s.bart(s.seq2seq_inputs(encoder_ids=[[1, 2, V]], decoder_ids=[[1, 2]])), kind=IDS),
        C("models.BartBackbone", "layer_norm_epsilon=-1",
          lambda s: models.BartBackbone(V, 1, 2, 8, 16, layer_norm_epsilon=-1.0)),
        C("models.TransformerSeq2Seq", "target_vocabulary_size=0",
          lambda s: models.TransformerSeq2Seq(V, 1, 2, 8, 16, target_vocabulary_size=0)),
        C("models.TransformerSeq2Seq", "decoder token id == V",
          lambda s: s.transformer_seq2seq(s.seq2seq_inputs(encoder_ids=[[1, 2]], decoder_ids=[[1, V]])), kind=IDS),
        C("models.TransformerSeq2Seq", "share_embeddings with a different target vocabulary",
          lambda s: models.TransformerSeq2Seq(V, 1, 2, 8, 16, target_vocabulary_size=V + 3, share_embeddings=True)),
        # Encoder tasks.
        C("models.TextClassifier", "num_classes=0", lambda s: models.TextClassifier(s.bert, num_classes=0)),
        C("models.TextClassifier", "a GPT backbone (no pooled output)",
          lambda s: models.TextClassifier(s.gpt, num_classes=2)),
        C("models.TextClassifier.fit", "label 3 with num_classes=3", lambda s: _classifier_fit(s, [0, 3]), kind=IDS),
        C("models.TextClassifier.fit", "float labels 0.5", lambda s: _classifier_fit(s, [0.5, 1.0]), kind=IDS),
        C("models.TextClassifier.fit", "3 labels for 2 examples", lambda s: _classifier_fit(s, [0, 1, 2]), kind=SHAPE),
        C("models.TextClassifier.predict", "a list of ints instead of texts",
          lambda s: _classifier_texts(s, [1, 2]), kind=TEXT),
        C("models.TextClassifier.predict", "texts with None", lambda s: _classifier_texts(s, ["a cat", None]),
          kind=TEXT),
        C("models.TextClassifier.predict", "an empty list", lambda s: _classifier_texts(s, []), kind=TEXT),
        C("models.TextClassifier.predict", "a text longer than the packer (truncated)",
          lambda s: warned(_classifier_texts, s, ["the cat " * 20]), kind=TEXT,
          expect="documented: a warning that the text was truncated", check=warns_about("truncated")),
        C("models.Task.preprocess", "ints instead of texts", lambda s: s.classifier.preprocess([1, 2]), kind=TEXT),
        # A list of two lists of strings is the documented sentence-pair form; a 2-D numpy array is not.
        C("models.Task.preprocess", "a 2-D array of texts",
          lambda s: s.classifier.preprocess(np.array([["a"], ["b"]], dtype=object)),
          kind=TEXT),
        C("models.TokenClassifier.fit", "label 3 with num_classes=3", lambda s: _token_classifier_fit(s, [0, 3]),
          kind=IDS),
        C("models.TokenClassifier", "num_classes=1.5", lambda s: models.TokenClassifier(s.bert, num_classes=1.5)),
        C("models.TextEmbedder", "normalize='yes'", lambda s: models.TextEmbedder(s.bert, normalize="yes")),
        C("models.TextEmbedder", "an all-padding row", lambda s: _embedder_all_padding(s), kind=NAN,
          expect="error, or a finite (zero) embedding",
          check=lambda out: np.isfinite(np.asarray(out)).all()),
        C("models.BertPretrainer", "a GPT backbone", lambda s: models.BertPretrainer(s.gpt)),
        C("models.BertPretrainer", "mask position == T",
          lambda s: models.BertPretrainer(s.bert, next_sentence=False)(
              dict(s.encoder_inputs(), mask_positions=np.array([[0, LENGTH]] * 2, "int32"))), kind=IDS),
        C("models.AlbertPretrainer", "next_sentence='yes'", lambda s: models.AlbertPretrainer(s.albert,
                                                                                               next_sentence="yes")),
        C("models.RobertaPretrainer", "a GPT backbone", lambda s: models.RobertaPretrainer(s.gpt)),
        C("models.GPTClassifier", "num_classes=0", lambda s: models.GPTClassifier(s.gpt, num_classes=0)),
        C("models.GPTClassifier", "lm_loss_weight=-1", lambda s: models.GPTClassifier(s.gpt, 2, lm_loss_weight=-1.0)),
        C("models.GPTClassifier", "combine='max'", lambda s: models.GPTClassifier(s.gpt, 2, combine="max")),
        C("models.BartDenoiser", "mask_token_id == V", lambda s: models.BartDenoiser(s.bart, mask_token_id=V)),
        C("models.BartDenoiser", "noise='shuffle'", lambda s: models.BartDenoiser(s.bart, mask_token_id=4,
                                                                                 noise="shuffle")),
        C("models.T5Denoiser", "noise_density=1.5", lambda s: models.T5Denoiser(s.t5, noise_density=1.5)),
        C("models.T5Denoiser", "num_sentinels > vocabulary_size", lambda s: models.T5Denoiser(s.t5, num_sentinels=100)),
        C("models.T5Denoiser", "mean_noise_span_length=0", lambda s: models.T5Denoiser(s.t5, num_sentinels=4,
                                                                                      mean_noise_span_length=0.0)),
        # RNN and word2vec models.
        C("models.RNNEncoder", "cell='transformer'", lambda s: models.RNNEncoder(8, cell="transformer")),
        C("models.RNNEncoder", "units=0", lambda s: models.RNNEncoder(0)),
        C("models.RNNEncoder", "merge_mode='max' (bidirectional)",
          lambda s: models.RNNEncoder(8, bidirectional=True, merge_mode="max")),
        C("models.RNNEncoder", "rank-2 inputs", lambda s: models.RNNEncoder(4)(np.zeros((2, 3), "float32")),
          kind=SHAPE),
        C("models.RNNSeq2Seq", "attention='bahdanau-ish'", lambda s: _rnn_seq2seq(attention="bogus")),
        C("models.RNNSeq2Seq", "source token id == V", lambda s: _rnn_seq2seq()(_rnn_inputs(V)), kind=IDS),
        C("models.RNNSeq2Seq", "a list instead of the input dict",
          lambda s: _rnn_seq2seq()([np.array([[1]]), np.array([[1]])]), kind=SHAPE),
        C("models.RNNSeq2Seq.generate", "max_length=0",
          lambda s: _rnn_seq2seq().generate(np.array([[5, 6]], "int32"), max_length=0)),
        C("models.RNNSeq2Seq.generate", "num_beams=0 with sampler='beam'",
          lambda s: _rnn_seq2seq().generate(np.array([[5, 6]], "int32"), 4, sampler="beam", num_beams=0)),
        C("models.RNNSeq2Seq.generate", "source id == V",
          lambda s: _rnn_seq2seq().generate(np.array([[5, V]], "int32"), max_length=4), kind=IDS),
        C("models.BiLanguageModel", "token id == V", lambda s: _bilm()(np.array([[1, V]], "int32")), kind=IDS),
        C("models.BiLanguageModel", "num_layers=0", lambda s: _bilm(num_layers=0) if False else
          models.BiLanguageModel(V, 4, 4, num_layers=0)),
        C("models.BiLanguageModel.tokenize", "texts without a vocabulary", lambda s: _bilm().tokenize(["a b"]),
          kind=TEXT),
        C("models.BiLanguageModel.tokenize", "a 5-word text with sequence_length=2",
          lambda s: _bilm(vocabulary=["[PAD]", "[UNK]", "a", "b"]).tokenize(["a b a b a"], sequence_length=2),
          kind=TEXT, expect="error or a report of the 3 dropped words"),
        C("models.Word2Vec", "mode='glove'", lambda s: models.Word2Vec(V, 4, mode="glove")),
        C("models.Word2Vec", "num_negative=-1", lambda s: models.Word2Vec(V, 4, num_negative=-1)),
        C("models.Word2Vec", "candidate id == V", lambda s: _word2vec_call([1, 2, V, 3]), kind=IDS),
        C("models.Word2Vec", "target id -1", lambda s: _word2vec_call([-1, 2, 3, 4]), kind=IDS),
        C("models.ScalarMix", "a single representation of rank 2",
          lambda s: models.ScalarMix()(np.zeros((2, 4), "float32")), kind=SHAPE),
        C("models.ScalarMix", "layer_norm='yes'", lambda s: models.ScalarMix(layer_norm="yes")),
        C("models.SequenceAttention", "score='cosine'", lambda s: models.SequenceAttention(score="cosine")),
        C("models.SequenceAttention", "an all-padding row",
          lambda s: models.SequenceAttention()(np.ones((1, 4), "float32"), np.ones((1, 3, 4), "float32"),
                                               padding_mask=np.zeros((1, 3), "int32")),
          kind=NAN, expect="error, or finite context", check=lambda out: np.isfinite(
              np.asarray(out[0] if isinstance(out, (tuple, list)) else out)).all()),
        C("models.Perplexity", "label id == V", lambda s: _perplexity([[0, 5]], np.zeros((1, 2, 5), "float32")),
          kind=IDS),
        C("models.Perplexity", "sample_weight of another shape",
          lambda s: _perplexity([[0, 1]], np.zeros((1, 2, 5), "float32"), sample_weight=np.ones((1, 3))), kind=SHAPE),
        C("models.freeze", "up_to='no_such_layer'", lambda s: models.freeze(s.classifier, up_to="no_such_layer")),
        C("models.merge_lora", "a model without LoRA", lambda s: models.merge_lora(keras.Sequential([
            keras.Input((2,)), keras.layers.Dense(2)])), expect="error, or a no-op that says so",
          check=lambda out: True),
        C("models.has_lora", "not a model (a string)", lambda s: models.has_lora("model")),
    ]
    return cases + preprocessor_cases()


def preprocessor_cases():
    from kerasnlp_lite.tokenizers import SegmentPacker

    C = Case
    return [
        C("models.TextPreprocessor", "an int tensor instead of strings",
          lambda s: s.text_preprocessor(tf.constant([1, 2])), kind=TEXT),
        C("models.TextPreprocessor", "three text segments (the packer takes any number)",
          lambda s: s.text_preprocessor((tf.constant(["a"]), tf.constant(["b"]), tf.constant(["c"]))), kind=TEXT,
          expect="documented: any number of segments, segment ids 0, 1, 2 (the backbone checks num_segments)",
          check=lambda out: np.asarray(out["segment_ids"]).max() == 2),
        C("models.TextPreprocessor", "a packer that is not a packer",
          lambda s: models.TextPreprocessor(s.wordpiece, packer="round_robin")),
        C("models.TextPreprocessor", "segment_ids='yes'",
          lambda s: models.TextPreprocessor(s.wordpiece, SegmentPacker(8, 2, 3), segment_ids="yes")),
        C("models.CausalLMPreprocessor", "sequence_length=0",
          lambda s: models.CausalLMPreprocessor(s.sentencepiece, sequence_length=0)),
        C("models.CausalLMPreprocessor", "start_token_id == V",
          lambda s: models.CausalLMPreprocessor(s.sentencepiece, 8, start_token_id=s.sp_size)),
        C("models.CausalLMPreprocessor", "ints instead of texts",
          lambda s: models.CausalLMPreprocessor(s.sentencepiece, 8)(tf.constant([1, 2])), kind=TEXT),
        C("models.CausalLMPreprocessor", "a text longer than sequence_length",
          lambda s: warned(models.CausalLMPreprocessor(s.sentencepiece, 4),
                           tf.constant(["Return the value of the key in the dict."])),
          kind=TEXT, expect="error, or a report of the truncation (the docstring promises `num_truncated`; the "
          "(x, y, sample_weight) training output has none, and no warning)", check=warns_about("truncat")),
        C("models.MaskedLMPreprocessor", "mask_rate=1.5",
          lambda s: models.MaskedLMPreprocessor(s.wordpiece, 8, mask_token_id=4, mask_rate=1.5)),
        C("models.MaskedLMPreprocessor", "mask_token_id == V",
          lambda s: models.MaskedLMPreprocessor(s.wordpiece, 8, mask_token_id=V)),
        C("models.MaskedLMPreprocessor", "mask_rate + random_rate > 1",
          lambda s: models.MaskedLMPreprocessor(s.wordpiece, 8, mask_token_id=4, mask_rate=0.8, random_rate=0.5)),
        C("models.MaskedLMPreprocessor", "selection_rate=0",
          lambda s: models.MaskedLMPreprocessor(s.wordpiece, 8, mask_token_id=4, selection_rate=0.0)),
        C("models.Seq2SeqPreprocessor", "end_token_id=-1",
          lambda s: models.Seq2SeqPreprocessor(s.wordpiece, end_token_id=-1, decoder_start_token_id=2)),
        C("models.Seq2SeqPreprocessor", "decoder_sequence_length=0",
          lambda s: models.Seq2SeqPreprocessor(s.wordpiece, 3, 2, decoder_sequence_length=0)),
        C("models.Seq2SeqPreprocessor", "ints as source texts",
          lambda s: models.Seq2SeqPreprocessor(s.wordpiece, 3, 2, encoder_sequence_length=8,
                                               decoder_sequence_length=8).features(tf.constant([1])), kind=TEXT),
    ]
