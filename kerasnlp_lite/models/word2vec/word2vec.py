"""word2vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling.

Shape legend: B = batch, K = negatives per example, C = candidates (1 + K,
the true word first), S = context slots of a CBOW window (2W), V =
vocabulary_size, D = embedding_dim.

Two tables, as in the reference C code: `word_embedding` (the input vectors
v, "syn0": the word vectors this model is trained for) and
`context_embedding` (the output vectors u, "syn1neg"). Skip-gram scores a
center word's v against each candidate's u; CBOW scores the mean v of the
surrounding words against each candidate's u. The loss per example is
(Mikolov et al. 2013, eq. 4)

    -log sigma(u_o . v) - sum_k log sigma(-u_k . v),

the sum of the sigmoid cross-entropies over the C candidates with labels
(1, 0, ..., 0): exactly the `labels` the pipelines in
`kerasnlp_lite.data.word2vec` emit.
"""

import collections
import re

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasnlp_lite.data.seeds import example_seed
from kerasnlp_lite.data.word2vec import cbow_examples, skipgram_pairs
from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.utils.validation import check_ids_in_range, check_integer_dtype, check_positive_int

MODES = ("skipgram", "cbow")
_WORD = re.compile(r"[a-z][a-z0-9_']*")


def split_words(text):
    """Lowercase words of `text` (letters first, then letters, digits, `_` or `'`)."""
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str, got {type(text).__name__}.")
    return _WORD.findall(text.lower())


def word_vocabulary(texts, vocabulary_size, reserved_tokens=()):
    """The most frequent words of `texts` (ties broken alphabetically) and their counts.

    Args:
        texts: an iterable of strings, split with `split_words`.
        vocabulary_size: size of the returned vocabulary, reserved tokens included.
        reserved_tokens: tokens placed first (e.g. `("[PAD]", "[UNK]")`), count 0.

    Returns:
        `(vocabulary, counts)`: a list of str and an int64 numpy array of the
        same length (occurrences of each word in `texts`).
    """
    check_positive_int(vocabulary_size, "vocabulary_size")
    counter = collections.Counter(word for text in texts for word in split_words(text))
    for token in reserved_tokens:
        counter.pop(token, None)
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    words = list(reserved_tokens) + [word for word, _ in ranked[: vocabulary_size - len(reserved_tokens)]]
    counts = np.array([counter.get(word, 0) for word in words], dtype=np.int64)
    return words, counts


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class NegativeSamplingLoss(keras.losses.Loss):
    """Sum over candidates of the sigmoid cross-entropy (Mikolov et al. 2013, eq. 4).

    `y_true` is `[B, C]` (1 at the true word, 0 at the negatives), `y_pred`
    the logits `[B, C]`; the result is averaged over the batch.
    """

    def __init__(self, name="negative_sampling_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "float32")
        # log sigma(x) = -softplus(-x): numerically stable for large |x|.
        per_candidate = y_true * ops.softplus(-y_pred) + (1.0 - y_true) * ops.softplus(y_pred)
        return ops.sum(per_candidate, axis=-1)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class Word2Vec(Backbone):
    """Skip-gram or CBOW word vectors trained with negative sampling.

    Inputs (int32): skip-gram `{"target_ids": [B], "candidate_ids": [B, C]}`;
    CBOW `{"context_ids": [B, S], "context_mask": [B, S], "candidate_ids":
    [B, C]}`; exactly the features of `skipgram_pairs` / `cbow_examples`
    (`features_and_labels` drops the labels into `y`). Output: float32
    logits `[B, C]`. Compiled without a `loss`, it trains on `NegativeSamplingLoss`.

    Initialisation as the C code: input vectors U(-0.5/D, 0.5/D), output
    vectors 0.

    Args:
        vocabulary_size: V.
        embedding_dim: D.
        mode: "skipgram" (predict each context word from the center) or
            "cbow" (predict the center from the mean of its context).
        num_negative: K; `candidate_ids` must be `[B, 1 + K]`, and
            `examples_dataset` draws K negatives.
        vocabulary: optional list of V strings, for string queries in
            `most_similar` / `analogy` and for the projector metadata.
        dtype: a dtype policy name, e.g. "mixed_bfloat16".

    Example:
    >>> model = Word2Vec(vocabulary_size=2000, embedding_dim=32, vocabulary=words)
    >>> model.compile(optimizer=keras.optimizers.Adam(0.01))
    >>> model.fit(model.examples_dataset(sequences, 2, counts, batch_size=512, seed=0))
    >>> model.most_similar("file", k=5)

    Reference:
        Mikolov et al. 2013, "Efficient Estimation of Word Representations in
        Vector Space" (https://arxiv.org/abs/1301.3781) and "Distributed
        Representations of Words and Phrases and their Compositionality"
        (https://arxiv.org/abs/1310.4546).
    """

    def __init__(self, vocabulary_size, embedding_dim, mode="skipgram", num_negative=5, vocabulary=None, dtype=None,
                 **kwargs):
        check_positive_int(vocabulary_size, "vocabulary_size")
        check_positive_int(embedding_dim, "embedding_dim")
        check_positive_int(num_negative, "num_negative")
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}, got {mode!r}.")
        if vocabulary is not None:
            vocabulary = [str(word) for word in vocabulary]
            if len(vocabulary) != vocabulary_size:
                raise ValueError(
                    f"`vocabulary` must hold vocabulary_size={vocabulary_size} words, got {len(vocabulary)}."
                )
        # === Layers ===
        scale = 0.5 / embedding_dim  # word2vec.c: (rand / RAND_MAX - 0.5) / layer1_size
        word_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, embeddings_initializer=keras.initializers.RandomUniform(-scale, scale),
            dtype=dtype, name="word_embedding",
        )
        context_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, embeddings_initializer="zeros", dtype=dtype, name="context_embedding"
        )

        # === Functional model ===
        candidate_ids = keras.Input(shape=(1 + num_negative,), dtype="int32", name="candidate_ids")
        if mode == "skipgram":
            target_ids = keras.Input(shape=(), dtype="int32", name="target_ids")
            inputs = {"target_ids": target_ids, "candidate_ids": candidate_ids}
            v = word_embedding(target_ids)  # [B, D]
        else:
            context_ids = keras.Input(shape=(None,), dtype="int32", name="context_ids")
            context_mask = keras.Input(shape=(None,), dtype="int32", name="context_mask")
            inputs = {"context_ids": context_ids, "context_mask": context_mask, "candidate_ids": candidate_ids}
            context = word_embedding(context_ids)  # [B, S, D]
            weights = ops.cast(context_mask, context.dtype)[:, :, None]  # [B, S, 1]
            # Mean over the real context words (word2vec.c divides by cw, the count).
            v = ops.sum(context * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        u = context_embedding(candidate_ids)  # [B, C, D]
        logits = ops.cast(ops.sum(u * v[:, None, :], axis=-1), "float32")  # [B, C], float32 for the loss
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype, **kwargs)

        # === Config ===
        self.set_config(
            vocabulary_size=vocabulary_size,
            embedding_dim=embedding_dim,
            mode=mode,
            num_negative=num_negative,
            vocabulary=vocabulary,
        )
        self.word_embedding = word_embedding
        self.context_embedding = context_embedding
        self._index = None if vocabulary is None else {word: i for i, word in enumerate(vocabulary)}

    def call(self, inputs, training=None, mask=None):
        # Keras' input spec already rejects a `candidate_ids` width other than 1 + num_negative.
        if isinstance(inputs, dict):
            for name, value in inputs.items():
                check_integer_dtype(value, name)
                # Eager only: -1 would read a zero row silently, V fails deep in the gather.
                if name.endswith("_ids"):
                    check_ids_in_range(value, self.vocabulary_size, name)
        return super().call(inputs, training=training, mask=mask)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # Compiled without a `loss`: the negative-sampling loss. (Not a `compile` override: Keras
        # then skips restoring the compile state on load.)
        if getattr(self, "loss", None) is None and y is not None:
            loss = NegativeSamplingLoss()(y, y_pred, sample_weight=sample_weight)
            return loss + ops.sum(self.losses) if self.losses else loss
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)

    # --- Data -----------------------------------------------------------------

    @staticmethod
    def features_and_labels(examples):
        """Splits a `skipgram_pairs` / `cbow_examples` dict into `(features, labels)` for `fit`."""
        examples = dict(examples)
        labels = examples.pop("labels")
        return examples, labels

    def examples_dataset(self, sequences, window_size, unigram_counts, batch_size, seed, subsample_threshold=None,
                         shuffle_buffer=100_000):
        """A `(features, labels)` dataset of this model's mode from token-id sequences.

        Args:
            sequences: a list of 1-D int sequences (sentences, no padding).
            window_size: W.
            unigram_counts: `[V]` counts (negatives ~ count ** 0.75).
            batch_size: examples per batch.
            seed: int; sentence i draws with `example_seed(seed, i)`.
            subsample_threshold: optional t of frequent-word subsampling.
            shuffle_buffer: examples in the shuffle buffer (0: no shuffle).
        """
        check_positive_int(batch_size, "batch_size")
        sequences = [np.asarray(s, dtype=np.int32) for s in sequences]
        ragged = tf.ragged.constant(sequences, dtype=tf.int32, ragged_rank=1)
        make = skipgram_pairs if self.mode == "skipgram" else cbow_examples

        def examples(index, ids):
            return make(ids, window_size, self.num_negative, self.vocabulary_size, seed=example_seed(seed, index),
                        unigram_counts=unigram_counts, subsample_threshold=subsample_threshold)

        dataset = tf.data.Dataset.from_tensor_slices(ragged).enumerate().map(examples).unbatch()
        if shuffle_buffer:
            dataset = dataset.shuffle(shuffle_buffer, seed=seed)
        return dataset.batch(batch_size).map(self.features_and_labels).prefetch(tf.data.AUTOTUNE)

    # --- Word vectors ---------------------------------------------------------

    def embed(self, token_ids):
        """Word vectors of `token_ids` (any int shape `[...]` -> `[..., D]`); works on Keras tensors."""
        check_integer_dtype(token_ids, "token_ids")
        return self.word_embedding(token_ids)

    def embedding_matrix(self):
        """The word vectors v, a float32 numpy array `[V, D]`."""
        return np.asarray(ops.convert_to_numpy(self.word_embedding.embeddings), dtype=np.float32)

    def save_embeddings(self, path, metadata_path=None):
        """Writes the word vectors to `.npy`, or to a `.tsv` for the TensorBoard projector.

        With a `.tsv` path, `metadata_path` (default `<path stem>_metadata.tsv`)
        gets one word per line, in id order, when the model has a vocabulary.
        Returns the list of written paths.
        """
        matrix = self.embedding_matrix()
        if path.endswith(".npy"):
            np.save(path, matrix)
            return [path]
        if not path.endswith(".tsv"):
            raise ValueError(f"`path` must end in .npy or .tsv, got {path!r}.")
        np.savetxt(path, matrix, delimiter="\t", fmt="%.6g")
        written = [path]
        if self.vocabulary is not None:
            metadata_path = metadata_path or path[: -len(".tsv")] + "_metadata.tsv"
            with open(metadata_path, "w", encoding="utf-8") as f:
                f.write("".join(word.replace("\t", " ") + "\n" for word in self.vocabulary))
            written.append(metadata_path)
        return written

    def token_id(self, word_or_id):
        """The id of a word (needs `vocabulary`) or a checked int id."""
        if isinstance(word_or_id, str):
            if self._index is None:
                raise ValueError("String queries need the model's `vocabulary`; pass an int id instead.")
            if word_or_id not in self._index:
                raise ValueError(f"{word_or_id!r} is not in the vocabulary.")
            return self._index[word_or_id]
        if isinstance(word_or_id, (bool, np.bool_)) or not isinstance(word_or_id, (int, np.integer)):
            raise TypeError(f"Expected a word (str) or an int id, got {word_or_id!r}.")
        if not 0 <= word_or_id < self.vocabulary_size:
            raise ValueError(f"Id {word_or_id} is outside [0, vocabulary_size={self.vocabulary_size}).")
        return int(word_or_id)

    def _nearest(self, query, exclude, k):
        check_positive_int(k, "k")
        matrix = self.embedding_matrix()
        unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        scores = unit @ query  # [V] cosine similarities
        scores[list(exclude)] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        label = (lambda i: self.vocabulary[i]) if self.vocabulary is not None else int
        return [(label(i), float(scores[i])) for i in top]

    def most_similar(self, word_or_id, k=10):
        """The k nearest words by cosine similarity (the query excluded): a list of `(word or id, cosine)`."""
        i = self.token_id(word_or_id)
        return self._nearest(self.embedding_matrix()[i], {i}, k)

    def analogy(self, a, b, c, k=1):
        """"a is to b as c is to ?": the k words nearest (cosine) to b - a + c, excluding a, b, c.

        3CosAdd on unit vectors, as word2vec's compute-accuracy (Mikolov et
        al. 2013a, section 4.1). Returns a list of `(word or id, cosine)`.
        """
        ids = [self.token_id(w) for w in (a, b, c)]
        matrix = self.embedding_matrix()
        unit = matrix[ids] / np.maximum(np.linalg.norm(matrix[ids], axis=1, keepdims=True), 1e-12)
        return self._nearest(unit[1] - unit[0] + unit[2], set(ids), k)
