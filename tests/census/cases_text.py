"""Census cases: tokenizers (NUL, invalid UTF-8, ids out of range, in tf.data), packers, vocabulary trainers,
and the data pipelines (MLM masking, sentence pairs, BART noise, T5 span corruption, causal LM, word2vec,
synthetic and built-in data)."""

import numpy as np
import tensorflow as tf

from kerasnlp_lite import data, tokenizers
from tests.census.harness import Case, warned, warns_about
from tests.census.shared import V, VOCAB

IDS = "ids out of range"
TEXT = "NUL / invalid UTF-8"
ARG = "argument"
SHAPE = "shape/dtype"
TRUNC = "truncation"

BAD_UTF8 = b"ab\xff\xfecd"
NUL = "the\x00cat"
SEED = (1, 2)


def _in_dataset(tokenizer, text):
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant([text])).map(tokenizer.tokenize)
    return [np.asarray(x) for x in dataset]


def _bpe_round_trip(s, text):
    ids = s.byte_bpe.tokenize(tf.constant(text))
    return s.byte_bpe.detokenize(ids).numpy()


def _as_bytes(text):
    return text if isinstance(text, bytes) else text.encode()


def _ids():
    return tf.constant([[5, 6, 7, 8, 9, 10, 11, 12]], "int32")


def _mlm(**kwargs):
    args = dict(vocabulary_size=V, mask_token_id=4, seed=SEED)
    args.update(kwargs)
    return data.mask_language_model(args.pop("token_ids", _ids()), **args)


def cases():
    C = Case
    return [
        # WordPiece.
        C("tokenizers.WordPieceTokenizer", "vocabulary without '[UNK]'",
          lambda s: tokenizers.WordPieceTokenizer(["[PAD]", "a", "b"])),
        C("tokenizers.WordPieceTokenizer", "duplicate vocabulary entries",
          lambda s: tokenizers.WordPieceTokenizer(VOCAB + ["cat"])),
        C("tokenizers.WordPieceTokenizer.tokenize", "text with a NUL character",
          lambda s: s.wordpiece.tokenize(NUL), kind=TEXT,
          expect="documented: the NUL dropped as a control character, as BERT's BasicTokenizer and HF tokenizers "
                 "do ('the\\x00cat' reads as 'thecat')",
          check=lambda ids: list(np.asarray(ids)) == list(np.asarray(s_wordpiece_ids("thecat")))),
        C("tokenizers.WordPieceTokenizer.tokenize", "invalid UTF-8 bytes", lambda s: s.wordpiece.tokenize(BAD_UTF8),
          kind=TEXT),
        C("tokenizers.WordPieceTokenizer.tokenize", "invalid UTF-8 bytes inside tf.data",
          lambda s: _in_dataset(s.wordpiece, BAD_UTF8), kind=TEXT),
        C("tokenizers.WordPieceTokenizer.tokenize", "an int tensor", lambda s: s.wordpiece.tokenize(tf.constant([1])),
          kind=SHAPE),
        C("tokenizers.WordPieceTokenizer.detokenize", "id == V", lambda s: s.wordpiece.detokenize([[5, V]]), kind=IDS),
        C("tokenizers.WordPieceTokenizer.detokenize", "id -1", lambda s: s.wordpiece.detokenize([[-1, 5]]), kind=IDS),
        C("tokenizers.WordPieceTokenizer.detokenize", "id == V in a tf.function",
          lambda s: tf.function(s.wordpiece.detokenize)(tf.constant([[5, V]])), kind=IDS),
        C("tokenizers.WordPieceTokenizer.detokenize", "float ids",
          lambda s: s.wordpiece.detokenize(np.array([[5.5]], "float32")), kind=IDS),
        # SentencePiece.
        C("tokenizers.SentencePieceTokenizer", "a proto that is not a model",
          lambda s: tokenizers.SentencePieceTokenizer(b"not a sentencepiece model")),
        C("tokenizers.SentencePieceTokenizer", "a missing file path",
          lambda s: tokenizers.SentencePieceTokenizer("/nonexistent/spiece.model")),
        C("tokenizers.SentencePieceTokenizer.tokenize", "text with a NUL character",
          lambda s: (s.sentencepiece.tokenize(NUL).numpy().tolist(), _spm_library_ids(s, NUL)), kind=TEXT,
          expect="documented: the ids of the sentencepiece library (a character outside the vocabulary, such as "
                 "NUL, is the unknown piece)",
          check=lambda out: out[0] == out[1] and 0 in out[0]),
        C("tokenizers.SentencePieceTokenizer.tokenize", "invalid UTF-8 bytes",
          lambda s: s.sentencepiece.tokenize(BAD_UTF8), kind=TEXT),
        C("tokenizers.SentencePieceTokenizer.tokenize", "invalid UTF-8 bytes inside tf.data",
          lambda s: _in_dataset(s.sentencepiece, BAD_UTF8), kind=TEXT),
        C("tokenizers.SentencePieceTokenizer.detokenize", "id == V",
          lambda s: s.sentencepiece.detokenize([[5, s.sp_size]]), kind=IDS),
        C("tokenizers.SentencePieceTokenizer.detokenize", "id -1", lambda s: s.sentencepiece.detokenize([[-1]]),
          kind=IDS),
        C("tokenizers.SentencePieceTokenizer.detokenize", "id == V in a tf.function",
          lambda s: tf.function(s.sentencepiece.detokenize)(tf.constant([[5, s.sp_size]])), kind=IDS),
        # Byte-level BPE: documented exact round trips.
        C("tokenizers.ByteBPETokenizer.tokenize", "invalid UTF-8 bytes (round trip)",
          lambda s: _bpe_round_trip(s, BAD_UTF8), kind=TEXT, expect="documented: exact byte round trip",
          check=lambda out: out == BAD_UTF8),
        C("tokenizers.ByteBPETokenizer.tokenize", "text with a NUL (round trip)", lambda s: _bpe_round_trip(s, NUL),
          kind=TEXT, expect="documented: exact byte round trip", check=lambda out: out == NUL.encode()),
        C("tokenizers.ByteBPETokenizer.tokenize", "invalid UTF-8 bytes inside tf.data",
          lambda s: (_in_dataset(s.byte_bpe, BAD_UTF8), s.byte_bpe), kind=TEXT,
          expect="error, or ids that detokenize to the same bytes",
          check=lambda out: out[1].detokenize(out[0][0]).numpy() == BAD_UTF8),
        C("tokenizers.ByteBPETokenizer.detokenize", "id == V", lambda s: s.byte_bpe.detokenize([[5, 400]]), kind=IDS),
        C("tokenizers.ByteBPETokenizer.detokenize", "id -1 in a tf.function",
          lambda s: tf.function(s.byte_bpe.detokenize)(tf.constant([[5, -1]])), kind=IDS),
        C("tokenizers.ByteBPETokenizer", "merges file missing",
          lambda s: tokenizers.ByteBPETokenizer({"a": 0}, "/nonexistent/merges.txt")),
        C("tokenizers.ByteBPETokenizer", "a merge whose result is not in the vocabulary",
          lambda s: tokenizers.ByteBPETokenizer({"a": 0, "b": 1}, ["a b"])),
        # Packers.
        C("tokenizers.SegmentPacker", "sequence_length=0", lambda s: tokenizers.SegmentPacker(0, 2, 3)),
        C("tokenizers.SegmentPacker", "truncate='bogus'", lambda s: tokenizers.SegmentPacker(8, 2, 3, truncate="bogus")),
        C("tokenizers.SegmentPacker", "on_truncation='ignore'",
          lambda s: tokenizers.SegmentPacker(8, 2, 3, on_truncation="ignore")),
        C("tokenizers.SegmentPacker", "a segment longer than sequence_length",
          lambda s: tokenizers.SegmentPacker(4, 2, 3)(tf.ragged.constant([[5, 6, 7, 8, 9]])), kind=TRUNC,
          expect="documented: truncated, with `num_truncated` reporting it",
          check=lambda out: int(np.asarray(out["num_truncated"]).sum()) > 0 if isinstance(out, dict) else False),
        C("tokenizers.SegmentPacker", "a dict of segments", lambda s: tokenizers.SegmentPacker(8, 2, 3)({"a": 1}),
          kind=SHAPE),
        C("tokenizers.SegmentPacker", "float segment values",
          lambda s: tokenizers.SegmentPacker(8, 2, 3)(tf.ragged.constant([[1.5, 2.5]])), kind=SHAPE),
        C("tokenizers.StartEndPacker", "sequence_length=1 with a start and an end",
          lambda s: tokenizers.StartEndPacker(1, start_value=2, end_value=3)),
        C("tokenizers.StartEndPacker", "on_truncation='drop'",
          lambda s: tokenizers.StartEndPacker(8, on_truncation="drop")),
        C("tokenizers.StartEndPacker", "a row longer than sequence_length",
          lambda s: tokenizers.StartEndPacker(3, start_value=2, end_value=3)(tf.ragged.constant([[5, 6, 7, 8]])),
          kind=TRUNC, expect="documented: truncated, with `num_truncated` reporting it",
          check=lambda out: isinstance(out, dict) and int(np.asarray(out.get("num_truncated", 0)).sum()) > 0),
        C("tokenizers.train_sentencepiece", "vocabulary_size=0",
          lambda s: tokenizers.train_sentencepiece(["a b c"], vocabulary_size=0)),
        C("tokenizers.train_sentencepiece", "no texts", lambda s: tokenizers.train_sentencepiece([], 50)),
        C("tokenizers.train_sentencepiece", "model_type='wordpiece'",
          lambda s: tokenizers.train_sentencepiece(["a b c"], 10, model_type="wordpiece")),
        C("tokenizers.train_sentencepiece", "vocabulary_size larger than the text allows",
          lambda s: tokenizers.train_sentencepiece(["a b c"], 5000)),
        C("tokenizers.train_wordpiece_vocabulary", "vocabulary_size=0",
          lambda s: tokenizers.train_wordpiece_vocabulary(["a b"], 0)),
        C("tokenizers.train_wordpiece_vocabulary", "vocabulary_size smaller than the reserved tokens",
          lambda s: tokenizers.train_wordpiece_vocabulary(["a b"], 3)),
        C("tokenizers.train_wordpiece_vocabulary", "ints instead of texts",
          lambda s: tokenizers.train_wordpiece_vocabulary([1, 2], 20)),
        # MLM masking.
        C("data.mask_language_model", "selection_rate=1.5", lambda s: _mlm(selection_rate=1.5)),
        C("data.mask_language_model", "mask_token_id == vocabulary_size", lambda s: _mlm(mask_token_id=V)),
        C("data.mask_language_model", "mask_rate + random_rate > 1", lambda s: _mlm(mask_rate=0.8, random_rate=0.5)),
        C("data.mask_language_model", "token id == vocabulary_size",
          lambda s: _mlm(token_ids=tf.constant([[5, 6, V, 7]])), kind=IDS),
        C("data.mask_language_model", "seed='abc'", lambda s: _mlm(seed="abc")),
        C("data.mask_language_model", "padding_mask of another length",
          lambda s: _mlm(padding_mask=tf.ones((1, 3), "int32")), kind=SHAPE),
        C("data.masked_lm_dataset", "num_epochs=0",
          lambda s: data.masked_lm_dataset(tf.data.Dataset.from_tensors(_ids()), V, 4, SEED, num_epochs=0)),
        C("data.masked_lm_dataset", "not a dataset", lambda s: data.masked_lm_dataset([[5, 6]], V, 4, SEED)),
        C("data.make_seed", "a float seed 1.5", lambda s: data.make_seed(1.5)),
        # Sentence pairs.
        C("data.next_sentence_pairs", "random_next_probability=2",
          lambda s: data.next_sentence_pairs([["a b", "c d"], ["e f", "g h"]], 0, random_next_probability=2.0)),
        C("data.next_sentence_pairs", "no documents", lambda s: data.next_sentence_pairs([], 0)),
        C("data.next_sentence_pairs", "a document that is a string, not a list of sentences",
          lambda s: data.next_sentence_pairs(["one sentence. another."], 0)),
        C("data.sentence_order_pairs", "swap_probability=-0.1",
          lambda s: data.sentence_order_pairs([["a b", "c d"]], 0, swap_probability=-0.1)),
        C("data.sentence_pairs_dataset", "an empty list of pairs", lambda s: data.sentence_pairs_dataset([])),
        # BART noise.
        C("data.token_masking", "mask_ratio=1.5", lambda s: data.token_masking(_ids()[0], 4, SEED, mask_ratio=1.5)),
        C("data.token_deletion", "deletion_ratio=-0.2",
          lambda s: data.token_deletion(_ids()[0], SEED, deletion_ratio=-0.2)),
        C("data.text_infilling", "mask_ratio=1.5", lambda s: data.text_infilling(_ids()[0], 4, SEED, mask_ratio=1.5)),
        C("data.mask_language_model", "output='sparse'", lambda s: _mlm(output="sparse")),
        C("data.token_masking", "rank-3 token_ids", lambda s: data.token_masking(_ids()[None], 4, SEED), kind=SHAPE),
        C("data.text_infilling", "poisson_lambda=0",
          lambda s: data.text_infilling(_ids()[0], 4, SEED, poisson_lambda=0.0)),
        C("data.document_rotation", "float token ids",
          lambda s: data.document_rotation(tf.constant([1.5, 2.5]), SEED), kind=SHAPE),
        C("data.sentence_permutation", "neither sentence_end_id nor sentence_ends",
          lambda s: data.sentence_permutation(_ids()[0], SEED)),
        C("data.poisson_span_lengths", "num_to_mask=-1", lambda s: data.poisson_span_lengths(-1, SEED)),
        C("data.poisson_span_lengths", "poisson_lambda=-3", lambda s: data.poisson_span_lengths(4, SEED,
                                                                                                poisson_lambda=-3.0)),
        # T5 span corruption.
        C("data.span_corruption", "noise_density=0", lambda s: data.span_corruption(_ids()[0], SEED, noise_density=0.0,
                                                                                    first_sentinel_id=30)),
        C("data.span_corruption", "noise_density=1.5",
          lambda s: data.span_corruption(_ids()[0], SEED, noise_density=1.5, first_sentinel_id=30)),
        C("data.span_corruption", "sentinels past the vocabulary (first 30, 100 of them, V=34)",
          lambda s: data.span_corruption(_ids()[0], SEED, vocabulary_size=V, first_sentinel_id=30)),
        C("data.span_corruption", "token id == vocabulary_size",
          lambda s: data.span_corruption(tf.constant([5, 6, V, 7, 8, 9]), SEED, vocabulary_size=V, num_sentinels=4),
          kind=IDS),
        C("data.span_corruption", "mean_noise_span_length=0",
          lambda s: data.span_corruption(_ids()[0], SEED, first_sentinel_id=30, mean_noise_span_length=0.0)),
        C("data.random_spans_noise_mask", "length=-1", lambda s: data.random_spans_noise_mask(-1, SEED)),
        C("data.random_spans_noise_mask", "noise_density=-0.5",
          lambda s: data.random_spans_noise_mask(10, SEED, noise_density=-0.5)),
        C("data.noise_span_to_unique_sentinel", "noise_mask of another length",
          lambda s: data.noise_span_to_unique_sentinel(_ids()[0], tf.constant([True, False]), 30), kind=SHAPE),
        C("data.nonnoise_span_to_unique_sentinel", "int noise_mask",
          lambda s: data.nonnoise_span_to_unique_sentinel(_ids()[0], tf.ones([8], "int32"), 30), kind=SHAPE),
        # Causal LM packing.
        C("data.causal_lm_examples", "sequence_length=0", lambda s: data.causal_lm_examples([[1, 2, 3]], 0)),
        C("data.causal_lm_examples", "end_token_id=-1", lambda s: data.causal_lm_examples([[1, 2, 3]], 4,
                                                                                         end_token_id=-1)),
        C("data.causal_lm_examples", "documents of strings", lambda s: data.causal_lm_examples(["a b c"], 4),
          kind=SHAPE),
        C("data.causal_lm_examples", "a last block shorter than sequence_length, pad_last_block=False",
          lambda s: data.causal_lm_examples([[1, 2, 3, 4, 5, 6, 7]], 4, pad_last_block=False), kind=TRUNC,
          expect="documented: the partial last block is dropped (one block of 4)",
          check=lambda out: np.asarray(out[0]["token_ids"] if isinstance(out, tuple) else out["token_ids"]).shape[0]
          == 1),
        C("data.causal_lm_dataset", "sequence_length=0",
          lambda s: data.causal_lm_dataset(tf.data.Dataset.from_tensors(tf.constant([1, 2, 3])), 0)),
        C("data.causal_lm_dataset", "a dataset of strings",
          lambda s: list(data.causal_lm_dataset(tf.data.Dataset.from_tensors(tf.constant(["a"])), 4)), kind=SHAPE),
        # word2vec.
        C("data.skipgram_pairs", "window_size=0", lambda s: data.skipgram_pairs([[1, 2, 3]], 0, 2, 10, 0)),
        C("data.skipgram_pairs", "token id == vocabulary_size",
          lambda s: data.skipgram_pairs([[1, 2, 10]], 1, 2, 10, 0), kind=IDS),
        C("data.skipgram_pairs", "negative unigram counts",
          lambda s: data.skipgram_pairs([[1, 2, 3]], 1, 2, 4, 0, unigram_counts=[1, -2, 3, 4])),
        C("data.cbow_examples", "num_negative=-1", lambda s: data.cbow_examples([[1, 2, 3]], 1, -1, 10, 0)),
        C("data.cbow_examples", "token id -1", lambda s: data.cbow_examples([[1, -1, 3]], 1, 2, 10, 0), kind=IDS),
        C("data.negative_sampling_distribution", "all-zero counts",
          lambda s: data.negative_sampling_distribution([0, 0, 0])),
        C("data.negative_sampling_distribution", "a negative count",
          lambda s: data.negative_sampling_distribution([3, -1, 2])),
        C("data.subsampling_keep_probabilities", "threshold=-1",
          lambda s: data.subsampling_keep_probabilities([3, 1, 2], threshold=-1.0)),
        # Synthetic and built-in data.
        C("data.copy_task", "num_examples=-1", lambda s: data.copy_task(-1)),
        C("data.reverse_task", "min_length > max_length", lambda s: data.reverse_task(4, min_length=5, max_length=2)),
        C("data.sort_task", "vocabulary_size=2 (no room for content tokens)",
          lambda s: data.sort_task(4, vocabulary_size=2)),
        C("data.addition_task", "max_digits=0", lambda s: data.addition_task(4, max_digits=0)),
        C("data.first_token_repeats_task", "min_length > sequence_length",
          lambda s: data.first_token_repeats_task(4, sequence_length=4, min_length=8)),
        C("data.synthetic_vocabulary", "task='translate'", lambda s: data.synthetic_vocabulary("translate")),
        C("data.synthetic_seq2seq_examples", "a task that is not a dict", lambda s: data.synthetic_seq2seq_examples(3)),
        C("data.seq2seq_examples", "3 sources and 2 targets",
          lambda s: data.seq2seq_examples([[5], [6], [7]], [[5], [6]], 2, 3)),
        C("data.seq2seq_examples", "a source longer than encoder_sequence_length",
          lambda s: warned(data.seq2seq_examples, [[5, 6, 7, 8, 9]], [[5]], 2, 3, encoder_sequence_length=3),
          kind=TRUNC, expect="error, or a warning about the truncation", check=warns_about("trunc")),
        C("data.stdlib_corpus", "granularity='paragraph'", lambda s: data.stdlib_corpus(3, granularity="paragraph")),
        C("data.stdlib_sentences", "max_sentences=-5", lambda s: data.stdlib_sentences(max_sentences=-5)),
        C("data.docstring_sentences", "a docstring that is None", lambda s: data.docstring_sentences(None),
          expect="error, or no sentences", check=lambda out: list(out) == []),
        C("data.topic_classification", "split='dev'", lambda s: data.topic_classification(4, split="dev")),
        C("data.topic_classification", "num_examples=0", lambda s: data.topic_classification(0)),
    ]


def _spm_library_ids(s, text):
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_proto=s.sp_proto).encode(text)


def s_wordpiece_ids(text):
    from tests.census.shared import VOCAB as vocabulary

    return tokenizers.WordPieceTokenizer(vocabulary).tokenize(text)
