"""tf.data pipelines, pretraining objectives and built-in data."""

from kerasnlp_lite.data.synthetic import first_token_repeats_task

# Pretraining objectives (seeded, stateless, usable in Dataset.map).
from kerasnlp_lite.data.seeds import example_seed, make_seed
from kerasnlp_lite.data.masking import mask_language_model, masked_lm_dataset
from kerasnlp_lite.data.sentence_pairs import next_sentence_pairs, sentence_order_pairs, sentence_pairs_dataset
from kerasnlp_lite.data.causal_lm import causal_lm_dataset, causal_lm_examples
from kerasnlp_lite.data.bart_noise import (
    document_rotation,
    poisson_span_lengths,
    sentence_permutation,
    text_infilling,
    token_deletion,
    token_masking,
)
from kerasnlp_lite.data.span_corruption import (
    noise_span_to_unique_sentinel,
    nonnoise_span_to_unique_sentinel,
    random_spans_noise_mask,
    span_corruption,
)

# Built-in data: the stdlib-docstring corpus (`kerasnlp_lite.data.corpora.as_dataset` for tf.data),
# synthetic seq2seq tasks, and word2vec examples.
from kerasnlp_lite.data.corpora import docstring_sentences, stdlib_corpus, stdlib_sentences
from kerasnlp_lite.data.synthetic import addition_task, copy_task, reverse_task, sort_task, synthetic_vocabulary
from kerasnlp_lite.data.topics import TOPICS, topic_classification
from kerasnlp_lite.data.word2vec import (
    cbow_examples,
    negative_sampling_distribution,
    skipgram_pairs,
    subsampling_keep_probabilities,
)
from kerasnlp_lite.data.seq2seq import seq2seq_examples, synthetic_seq2seq_examples
