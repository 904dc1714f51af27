"""ELMo-style bidirectional LSTM language model and the scalar mix of its layers (Peters et al. 2018).

Shape legend: B = batch, T = tokens, V = vocabulary_size, D = embedding_dim
(the token embedding and each direction's layer output), U = units (LSTM
cells), J = num_layers + 1 layer representations (the token layer, then one
per LSTM layer).

A forward LM reads t_1..t_k and predicts t_{k+1}; a backward LM reads
t_N..t_k and predicts t_{k-1}. Both share the token embedding and the
softmax, and are trained together on the sum of their mean cross-entropies
(Peters et al. 2018, eq. 1). ELMo's representation of token k is

    ELMo_k = gamma * sum_j s_j h_{k,j},    s = softmax(w)       (eq. 1)

where h_{k,0} = [x_k; x_k] (the token embedding, duplicated to the 2D width
of the biLSTM layers as ELMo does) and h_{k,j} = [h->_{k,j}; h<-_{k,j}].

Choices beside the paper: token-level input (no character CNN); a Dense
projection from U to D after each LSTM layer when U != D (ELMo projects its
4096-cell LSTMs to 512 inside the cell, LSTMP); no residual connections.
"""

import keras
import numpy as np
from keras import ops

from kerasnlp_lite.models.backbone import Backbone
from kerasnlp_lite.models.word2vec.word2vec import split_words
from kerasnlp_lite.utils.validation import (
    check_float_dtype,
    check_ids_in_range,
    check_integer_dtype,
    check_positive_int,
    check_rank,
    check_rate,
)

PAD_ID, UNK_ID = 0, 1


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class ScalarMix(keras.layers.Layer):
    """gamma * sum_j softmax(w)_j h_j over the second axis (Peters et al. 2018, eq. 1).

    w starts at 0 (an equal average of the layers) and gamma at 1; both are
    trained with the downstream task while the biLM stays frozen.

    Args:
        layer_norm: normalise each representation over its last axis (no
            parameters) before mixing: "In some cases, we found it helped to
            apply layer normalization to each biLM layer before weighting"
            (Peters et al. 2018, section 3.2).
        layer_norm_epsilon: added to the variance when `layer_norm`.

    Call arguments:
        representations: float `[B, J, ..., D]`, the J layers stacked on axis 1.

    Returns:
        `[B, ..., D]` in the compute dtype.
    """

    def __init__(self, layer_norm=False, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer_norm, bool):
            raise TypeError(f"`layer_norm` must be a bool, got {layer_norm!r}.")
        self.layer_norm = layer_norm
        self.layer_norm_epsilon = layer_norm_epsilon

    def build(self, representations_shape):
        num_representations = representations_shape[1]
        if num_representations is None:
            raise ValueError("`representations` must have a known size J on axis 1 ([B, J, ..., D]).")
        self.layer_weights = self.add_weight(shape=(num_representations,), initializer="zeros", name="layer_weights")
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, representations):
        check_float_dtype(representations, "representations")
        if len(representations.shape) < 3:
            raise ValueError(
                f"`representations` must have shape [batch, num_representations, ..., dim] (rank >= 3), "
                f"got {tuple(representations.shape)}."
            )
        x = ops.cast(representations, self.compute_dtype)
        if self.layer_norm:
            mean = ops.mean(x, axis=-1, keepdims=True)
            variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
            x = (x - mean) * ops.rsqrt(variance + self.layer_norm_epsilon)
        s = ops.cast(ops.softmax(self.layer_weights), self.compute_dtype)  # [J]
        s = ops.reshape(s, (1, -1) + (1,) * (len(x.shape) - 2))  # [1, J, 1, ..., 1]
        return ops.cast(self.scale, self.compute_dtype) * ops.sum(s * x, axis=1)

    def get_config(self):
        config = super().get_config()
        config.update({"layer_norm": self.layer_norm, "layer_norm_epsilon": self.layer_norm_epsilon})
        return config


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class _ReverseWithinLength(keras.layers.Layer):
    """Reverses `x` `[B, T, ...]` along T within each sequence's length (right padding stays put).

    Equivalent to `tf.reverse_sequence`, built from a gather so it runs on any
    backend and converts to TFLite builtins. A layer (not bare ops in the
    functional graph) so the shapes it reads are the call's real shapes.
    """

    def call(self, x, token_ids):
        real = ops.cast(ops.not_equal(token_ids, PAD_ID), "int32")  # [B, T]
        lengths = ops.sum(real, axis=1, keepdims=True)  # [B, 1]
        positions = ops.cumsum(ops.ones_like(real), axis=1) - 1  # [B, T]: 0..T-1
        index = ops.where(positions < lengths, lengths - 1 - positions, positions)  # [B, T]
        index = ops.expand_dims(index, -1) * ops.ones_like(x[..., :1], dtype="int32")  # [B, T, D]
        # The reshape restores the static shape the gather loses in a traced TF graph: the TFLite
        # converter lowers an LSTM's loop only when its input's element shape is static.
        return ops.reshape(ops.take_along_axis(x, index, axis=1), ops.shape(x))

    def compute_output_shape(self, x_shape, token_ids_shape=None):
        return x_shape


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class BiLanguageModel(Backbone):
    """Forward and backward LSTM language models over token ids, ELMo-style.

    Input: `{"token_ids": int32 [B, T]}`, right-padded with id 0 (id 1 is
    `[UNK]` for text input). Outputs, a dict:
    `forward_logits` and `backward_logits` float32 `[B, T, V]` (position k
    predicts token k+1, resp. k-1), `layer_representations` `[B, J, T, 2D]`
    and `contextual_embeddings` `[B, T, 2D]` (mixed by `scalar_mix`). `fit`
    needs no labels: the loss is the forward plus the backward LM
    cross-entropy, each averaged over its predicted tokens. Call
    `initialize_output_bias(counts)` before training (see there why).

    The backward LSTM runs left to right over each sequence reversed within
    its length, so neither direction needs a mask (padding only ever comes
    after the real tokens it could affect), and the unrolled LSTMs convert to
    TFLite builtins (FULLY_CONNECTED, LOGISTIC, TANH, MUL, ADD).

    Args:
        vocabulary_size: V (id 0 padding).
        embedding_dim: D, the token embedding and each direction's layer width.
        units: U, cells per LSTM layer.
        num_layers: LSTM layers per direction (2 in ELMo).
        tie_weights: logits = h E^T with the input embedding E (Press & Wolf
            2017; no bias). Default: a separate Dense softmax (with bias)
            shared by both directions, as ELMo (which ties the softmax
            between directions, not to the input).
        dropout: on the token embedding and each layer's output in training.
        vocabulary: optional list of V words (id 0 `[PAD]`, 1 `[UNK]`) for text input.
        unroll: unroll the LSTMs' time loops. None (default): unroll when the
            sequence length is static (a fixed-shape export, eager calls),
            loop otherwise (`padded_batch` data). The loop's TensorLists have
            the unknown batch size in their element shape, which the TFLite
            converter cannot lower to builtins; unrolled, the LSTMs convert.
        dtype: a dtype policy name, e.g. "mixed_bfloat16".

    Example:
    >>> bilm = BiLanguageModel(vocabulary_size=2000, embedding_dim=32, units=64, vocabulary=words)
    >>> bilm.compile(optimizer="adam")
    >>> bilm.fit(dataset_of_token_id_dicts, epochs=1)
    >>> bilm.contextual_embeddings(["open the file", "the file object"])  # [2, 4, 64]

    Reference:
        Peters et al. 2018, "Deep contextualized word representations"
        (https://arxiv.org/abs/1802.05365).
    """

    def __init__(self, vocabulary_size, embedding_dim, units, num_layers=2, tie_weights=False, dropout=0.0,
                 vocabulary=None, unroll=None, dtype=None, **kwargs):
        check_positive_int(vocabulary_size, "vocabulary_size", minimum=2)
        check_positive_int(embedding_dim, "embedding_dim")
        check_positive_int(units, "units")
        check_positive_int(num_layers, "num_layers")
        check_rate(dropout, "dropout")
        if not isinstance(tie_weights, bool):
            raise TypeError(f"`tie_weights` must be a bool, got {tie_weights!r}.")
        if unroll is not None and not isinstance(unroll, bool):
            raise TypeError(f"`unroll` must be None (auto), True or False, got {unroll!r}.")
        if vocabulary is not None:
            vocabulary = [str(word) for word in vocabulary]
            if len(vocabulary) != vocabulary_size:
                raise ValueError(
                    f"`vocabulary` must hold vocabulary_size={vocabulary_size} words, got {len(vocabulary)}."
                )

        # === Layers ===
        token_embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, dtype=dtype, name="token_embedding")
        dropout_layer = keras.layers.Dropout(dropout, dtype=dtype, name="dropout")

        def direction(prefix):
            lstms = [
                keras.layers.LSTM(units, return_sequences=True, dtype=dtype, name=f"{prefix}_lstm_{i}")
                for i in range(num_layers)
            ]
            projections = [
                # No bias, as the projection of ELMo's LSTMP cells.
                keras.layers.Dense(embedding_dim, use_bias=False, dtype=dtype, name=f"{prefix}_projection_{i}")
                if units != embedding_dim else None
                for i in range(num_layers)
            ]
            return lstms, projections

        forward_lstms, forward_projections = direction("forward")
        backward_lstms, backward_projections = direction("backward")
        softmax = None if tie_weights else keras.layers.Dense(vocabulary_size, dtype=dtype, name="softmax")
        # The default mix: equal weights and gamma = 1, frozen so that LM training
        # (which gives it no gradient) leaves it alone. A downstream task sets
        # `scalar_mix.trainable = True` with the biLM frozen, or passes its own.
        scalar_mix = ScalarMix(dtype=dtype, trainable=False, name="scalar_mix")

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        reverse = _ReverseWithinLength(dtype=dtype, name="reverse_within_length")
        x = token_embedding(token_ids)  # [B, T, D]
        layers = [ops.concatenate([x, x], axis=-1)]  # h_{k,0} = [x_k; x_k], [B, T, 2D]
        forward, backward = dropout_layer(x), reverse(dropout_layer(x), token_ids)
        for i in range(num_layers):
            forward = forward_lstms[i](forward)  # [B, T, U]
            backward = backward_lstms[i](backward)  # [B, T, U], in reversed order
            if forward_projections[i] is not None:
                forward, backward = forward_projections[i](forward), backward_projections[i](backward)
            forward, backward = dropout_layer(forward), dropout_layer(backward)
            layers.append(ops.concatenate([forward, reverse(backward, token_ids)], axis=-1))
        backward = reverse(backward, token_ids)  # back to reading order, [B, T, D]
        if tie_weights:
            table = ops.transpose(token_embedding.embeddings)  # [D, V]
            forward_logits, backward_logits = ops.matmul(forward, table), ops.matmul(backward, table)
        else:
            forward_logits, backward_logits = softmax(forward), softmax(backward)
        real = ops.cast(ops.not_equal(token_ids, PAD_ID), layers[0].dtype)[:, None, :, None]  # [B, 1, T, 1]
        representations = ops.stack(layers, axis=1) * real  # [B, J, T, 2D], zero at padding
        super().__init__(
            inputs={"token_ids": token_ids},
            outputs={
                "forward_logits": ops.cast(forward_logits, "float32"),
                "backward_logits": ops.cast(backward_logits, "float32"),
                "layer_representations": representations,
                "contextual_embeddings": scalar_mix(representations),
            },
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.set_config(
            vocabulary_size=vocabulary_size,
            embedding_dim=embedding_dim,
            units=units,
            num_layers=num_layers,
            tie_weights=tie_weights,
            dropout=dropout,
            vocabulary=vocabulary,
            unroll=unroll,
        )
        self.token_embedding = token_embedding
        self.forward_lstms, self.backward_lstms = forward_lstms, backward_lstms
        self.softmax = softmax
        self.scalar_mix = scalar_mix
        self._index = None if vocabulary is None else {word: i for i, word in enumerate(vocabulary)}

    def call(self, inputs, training=None, mask=None):
        # Eager only (free in graphs): an id past the table fails deep in the embedding gather.
        ids = inputs.get("token_ids") if isinstance(inputs, dict) else inputs
        if ids is not None and not isinstance(ids, (list, tuple)):
            check_ids_in_range(ids, self.vocabulary_size, "token_ids")
        if isinstance(inputs, dict) and "token_ids" in inputs:
            check_integer_dtype(inputs["token_ids"], "token_ids")
            check_rank(inputs["token_ids"], 2, "token_ids", "[batch, sequence_length]")
            unroll = self.unroll if self.unroll is not None else inputs["token_ids"].shape[1] is not None
            for lstm in self.forward_lstms + self.backward_lstms:
                lstm.unroll = unroll  # read by Keras' RNN.call at call time
        return super().call(inputs, training=training, mask=mask)

    # --- Training -------------------------------------------------------------

    def lm_losses(self, token_ids, outputs):
        """(forward, backward) mean cross-entropies of `outputs` for `token_ids` `[B, T]`."""
        token_ids = ops.cast(token_ids, "int32")
        real = ops.cast(ops.not_equal(token_ids, PAD_ID), "float32")

        def mean_cross_entropy(targets, logits, weights):
            losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
            return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)

        # Forward: position k predicts k+1; backward: position k predicts k-1.
        forward = mean_cross_entropy(token_ids[:, 1:], outputs["forward_logits"][:, :-1], real[:, 1:])
        backward = mean_cross_entropy(token_ids[:, :-1], outputs["backward_logits"][:, 1:], real[:, 1:])
        return forward, backward

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        token_ids = x["token_ids"] if isinstance(x, dict) else x
        forward, backward = self.lm_losses(token_ids, y_pred)
        loss = forward + backward  # Peters et al. 2018, eq. 1: jointly maximise both log likelihoods
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def initialize_output_bias(self, unigram_counts):
        """Sets the softmax bias to log p(w), the smoothed unigram distribution, before training.

        Without it the two LSTMs first learn the unigram distribution through
        a constant, saturated hidden state (every position gets the same
        gradient, far faster than the bias moves): measured on the built-in
        corpus, every contextual vector then has cosine ~1.0 with every other
        after a few hundred steps and the loss stalls at the unigram entropy.
        With the bias set, the LSTMs only have to model context.

        Args:
            unigram_counts: `[V]` counts of each id in the training data
                (add-one smoothed; the padding id gets count 0 too).
        """
        if self.softmax is None:
            raise ValueError("`tie_weights=True` has no softmax bias; build with `tie_weights=False`.")
        counts = np.asarray(unigram_counts, np.float64)
        if counts.shape != (self.vocabulary_size,) or np.any(counts < 0) or not np.all(np.isfinite(counts)):
            raise ValueError(
                f"`unigram_counts` must be finite counts >= 0 of shape [vocabulary_size]=[{self.vocabulary_size}], "
                f"got shape {counts.shape}."
            )
        smoothed = counts + 1.0
        self.softmax.bias.assign(np.log(smoothed / smoothed.sum()).astype("float32"))

    def evaluate_lm(self, token_ids):
        """Eager (forward, backward) mean LM cross-entropies (nats per token) on `token_ids` `[B, T]`."""
        token_ids = ops.convert_to_tensor(np.asarray(token_ids), "int32")
        forward, backward = self.lm_losses(token_ids, self({"token_ids": token_ids}, training=False))
        return float(forward), float(backward)

    # --- Contextual embeddings ------------------------------------------------

    def tokenize(self, texts, sequence_length=None):
        """int32 `[B, T]` ids of `texts` (a str or list of str): lowercase words, `[UNK]`=1, right-padded with 0."""
        if self._index is None:
            raise ValueError("Text input needs the model's `vocabulary`; pass token ids instead.")
        texts = [texts] if isinstance(texts, str) else list(texts)
        rows = [[self._index.get(word, UNK_ID) for word in split_words(text)] for text in texts]
        length = sequence_length or max(1, max(map(len, rows), default=1))
        ids = np.zeros((len(rows), length), np.int32)
        for i, row in enumerate(rows):
            ids[i, : min(len(row), length)] = row[:length]
        return ids

    def contextual_embeddings(self, token_ids_or_text, scalar_mix=None, training=False):
        """ELMo_k = gamma * sum_j s_j h_{k,j} (eq. 1): `[B, T, 2D]`, zero at padding.

        Args:
            token_ids_or_text: int `[B, T]` (tensor, array or Keras tensor) or
                a str / list of str (tokenized with `tokenize`).
            scalar_mix: a task's `ScalarMix`; default the model's own `scalar_mix`.
        """
        if isinstance(token_ids_or_text, str) or (
            isinstance(token_ids_or_text, (list, tuple)) and token_ids_or_text and isinstance(token_ids_or_text[0], str)
        ):
            token_ids = self.tokenize(token_ids_or_text)
        else:
            token_ids = token_ids_or_text
        if isinstance(token_ids, (list, tuple, np.ndarray)):
            token_ids = ops.convert_to_tensor(np.asarray(token_ids))
        outputs = self({"token_ids": token_ids}, training=training)
        if scalar_mix is None:
            return outputs["contextual_embeddings"]  # in the graph: a model built on it saves and exports as one
        return scalar_mix(outputs["layer_representations"])
