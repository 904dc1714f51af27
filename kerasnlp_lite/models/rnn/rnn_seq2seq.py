"""Recurrent encoder-decoder (Sutskever et al. 2014; Cho et al. 2014) with optional attention
(Bahdanau et al. 2015; Luong et al. 2015), teacher-forced training, greedy and beam decoding.

Shape legend: B = batch, S = source length, T = target (decoder) length,
E = embedding_dim, D = encoder output width, U = decoder_units, V = target
vocabulary, K = beams, M = generated length (`max_length`).
"""

import functools

import keras
import tensorflow as tf
from keras import ops

from kerasnlp_lite.generation.samplers import BeamSearch, GreedySampler, get_sampler
from kerasnlp_lite.models.rnn.rnn_encoder import RNN_LAYERS, RNNEncoder, check_cell, num_states
from kerasnlp_lite.models.rnn.sequence_attention import SCORES, SequenceAttention
from kerasnlp_lite.models.task import Task
from kerasnlp_lite.utils.validation import (
    check_ids_in_range, check_integer_dtype, check_positive_int, check_rank, check_rate,
)

_NEG = -1e9  # log-prob of a forbidden beam extension: large and finite, not -inf


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RNNSeq2Seq(keras.Model):
    """An RNN encoder and a recurrent decoder, with or without attention.

    - `attention=None`: the encoder's final state is the fixed-length
      context C; it initialises the decoder, which never sees the encoder
      states again (Sutskever et al. 2014, Cho et al. 2014).
    - `attention="dot" | "general" | "additive"`: at every step t the
      decoder state h_t attends over all encoder states (`SequenceAttention`
      with that score), and the output is read from the attentional state
      h~_t = tanh(W_c [c_t; h_t]) (Luong et al. 2015, eq. 5). "additive" is
      Bahdanau's score v^T tanh(W1 h_j + W2 s).
    - `input_feeding=True` (needs attention): h~_{t-1} is concatenated to the
      next input so alignment decisions see the previous ones (Luong et al.
      2015, section 3.3; in Bahdanau et al. the context also enters the
      recurrence). Training then steps the decoder cell in a Python loop
      over the (static) target length; without it the whole decoder runs as
      one Keras recurrent layer and attention is computed for all steps at
      once.

    The decoder's initial state is the encoder's final state when widths
    match (D == U), else tanh(W h_enc) per state (Bahdanau et al. 2015,
    appendix A.2.2: s_0 = tanh(W_s h_1)); an LSTM decoder after a GRU
    encoder starts its cell state at zero.

    Inputs: a dict of int `[B, S]` `source_ids`, optional `source_padding_mask`
    (1 at real tokens; default `source_ids != pad_token_id`) and int `[B, T]`
    `decoder_input_ids` (the target shifted right behind `start_token_id`, teacher
    forcing). Output: float32 logits `[B, T, V]` (float32 also under mixed
    precision, for a stable softmax cross-entropy). `compile()` defaults to
    cross-entropy averaged over the real target tokens: `fit(x, y)` weights
    each position by `y != pad_token_id` unless a `sample_weight` is given.

    The layout of `kerasnlp_lite.data.synthetic` (`reverse_task` ...) is the
    default: pad 0, BOS 1, EOS 2.

    Args:
        vocabulary_size: source vocabulary (and target, unless
            `target_vocabulary_size` is given).
        embedding_dim: E, width of the source and target token embeddings.
        encoder: an `RNNEncoder`, or a dict of its arguments.
        decoder_units: U.
        target_vocabulary_size: V; defaults to `vocabulary_size`.
        attention: None, "dot", "general" or "additive".
        attention_units: width of the additive score (default D).
        input_feeding: feed h~_{t-1} into step t (needs `attention`).
        decoder_cell: "lstm", "gru" or "simple"; defaults to the encoder's.
        dropout: on the embeddings and before the output layer.
        pad_token_id, start_token_id, end_token_id: special token ids of the target side.

    Example:
    >>> model = RNNSeq2Seq(16, 32, dict(units=64, bidirectional=True), 128, attention="general")
    >>> model.compile(optimizer="adam")
    >>> model.fit(data_dict_without_targets, target_ids)
    >>> model.generate(source_ids, max_length=12)["token_ids"]

    Reference:
        Sutskever, Vinyals & Le 2014; Cho et al. 2014; Bahdanau, Cho & Bengio
        2015; Luong, Pham & Manning 2015.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        encoder,
        decoder_units,
        target_vocabulary_size=None,
        attention=None,
        attention_units=None,
        input_feeding=False,
        decoder_cell=None,
        dropout=0.0,
        pad_token_id=0,
        start_token_id=1,
        end_token_id=2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(vocabulary_size, "vocabulary_size")
        check_positive_int(embedding_dim, "embedding_dim")
        check_positive_int(decoder_units, "decoder_units")
        check_positive_int(target_vocabulary_size, "target_vocabulary_size", allow_none=True)
        if attention is not None and attention not in SCORES:
            raise ValueError(f"`attention` must be None or one of {SCORES}, got {attention!r}.")
        if input_feeding and attention is None:
            raise ValueError("`input_feeding=True` feeds the attentional state back; it needs `attention`.")
        check_rate(dropout, "dropout")
        if isinstance(encoder, dict):
            encoder = RNNEncoder(**encoder, dtype=self.dtype_policy, name="encoder")
        if not isinstance(encoder, RNNEncoder):
            raise TypeError(f"`encoder` must be an RNNEncoder or a dict of its arguments, got {type(encoder).__name__}.")
        decoder_cell = decoder_cell or encoder.cell
        check_cell(decoder_cell, "decoder_cell")
        target_size = target_vocabulary_size or vocabulary_size
        for name, value in (("pad_token_id", pad_token_id), ("start_token_id", start_token_id), ("end_token_id", end_token_id)):
            check_positive_int(value, name, minimum=0)
            if value >= target_size:
                raise ValueError(f"`{name}`={value} must be < the target vocabulary size {target_size}.")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.encoder = encoder
        self.decoder_units = decoder_units
        self.target_vocabulary_size = target_vocabulary_size
        self.attention = attention
        self.attention_units = attention_units
        self.input_feeding = input_feeding
        self.decoder_cell = decoder_cell
        self.dropout = dropout
        self.pad_token_id = pad_token_id
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id

        # === Layers ===
        policy = self.dtype_policy
        self.source_embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, dtype=policy, name="source_embedding")
        self.target_embedding = keras.layers.Embedding(target_size, embedding_dim, dtype=policy, name="target_embedding")
        self.decoder_rnn = RNN_LAYERS[decoder_cell](decoder_units, return_sequences=True, dtype=policy, name="decoder")
        # One bridge per decoder state that has an encoder counterpart, only when widths differ.
        self._num_bridged = min(num_states(decoder_cell), encoder.num_states)
        self.bridges = []
        if encoder.output_dim != decoder_units:
            self.bridges = [
                keras.layers.Dense(decoder_units, activation="tanh", dtype=policy, name=f"bridge_{i}")
                for i in range(self._num_bridged)
            ]
        self.attention_layer = None
        self.attention_projection = None
        if attention is not None:
            self.attention_layer = SequenceAttention(
                score=attention, units=attention_units, dtype=policy, name="attention"
            )
            # h~ = tanh(W_c [c; h]) (Luong et al. 2015, eq. 5): no bias, as in the paper.
            self.attention_projection = keras.layers.Dense(
                decoder_units, activation="tanh", use_bias=False, dtype=policy, name="attention_projection"
            )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=policy, name="dropout")
        self.output_dense = keras.layers.Dense(target_size, dtype=policy, name="logits")
        self._generate_functions = {}

    # --- building blocks ------------------------------------------------------
    def _source_mask(self, source_ids, source_padding_mask):
        if source_padding_mask is None:
            return ops.cast(ops.not_equal(source_ids, self.pad_token_id), "int32")
        check_rank(source_padding_mask, 2, "source_padding_mask", "[batch, source_length]")
        return ops.cast(source_padding_mask, "int32")

    def encode(self, source_ids, source_padding_mask=None, training=None):
        """`(encoder states [B, S, D], decoder initial states, source mask [B, S])`."""
        check_rank(source_ids, 2, "source_ids", "[batch, source_length]")
        check_integer_dtype(source_ids, "source_ids")
        mask = self._source_mask(source_ids, source_padding_mask)
        x = self.dropout_layer(self.source_embedding(source_ids), training=training)
        encoded, final_states = self.encoder(x, padding_mask=mask, training=training)
        states = final_states[: self._num_bridged]
        if self.bridges:
            states = [bridge(s) for bridge, s in zip(self.bridges, states)]
        if num_states(self.decoder_cell) == 2 and len(states) == 1:
            states = states + [ops.zeros_like(states[0])]  # LSTM cell state after a GRU / simple encoder
        return encoded, states, mask

    def _attend(self, hidden, encoded, mask, keys=None):
        """Attentional state h~ and weights, for one step `[B, U]` or all steps `[B, T, U]`."""
        context, weights = self.attention_layer(hidden, encoded, padding_mask=mask, keys=keys)
        return self.attention_projection(ops.concatenate([context, hidden], axis=-1)), weights

    def _logits(self, hidden, training=None):
        return ops.cast(self.output_dense(self.dropout_layer(hidden, training=training)), "float32")

    def _keys(self, encoded):
        if self.attention_layer is None:
            return None
        if not self.attention_layer.built:
            self.attention_layer.build((None, self.decoder_units), tuple(encoded.shape))
        return self.attention_layer.precompute_keys(encoded)

    def decode_step(self, token_ids, states, feed, encoded, keys, mask, training=None):
        """One decoder step for token ids `[B]`.

        Returns `(logits [B, V] float32, new states, h~ [B, U] (the next
        step's feed), attention weights [B, S] or None)`.
        """
        x = self.dropout_layer(self.target_embedding(token_ids), training=training)  # [B, E]
        if self.input_feeding:
            x = ops.concatenate([x, feed], axis=-1)  # [B, E + U]
        hidden, states = self.decoder_rnn.cell(x, states, training=training)
        weights = None
        if self.attention_layer is not None:
            hidden, weights = self._attend(hidden, encoded, mask, keys)
        return self._logits(hidden, training), list(states), hidden, weights

    # --- forward pass (teacher forcing) --------------------------------------
    def _unpack(self, inputs):
        if not isinstance(inputs, dict) or "source_ids" not in inputs or "decoder_input_ids" not in inputs:
            raise ValueError(
                "RNNSeq2Seq takes a dict with `source_ids` [batch, source_length], `decoder_input_ids` "
                f"[batch, target_length] and optionally `source_padding_mask`; got {type(inputs).__name__}"
                + (f" with keys {sorted(inputs)}" if isinstance(inputs, dict) else "")
                + "."
            )
        decoder_input_ids = inputs["decoder_input_ids"]
        check_rank(decoder_input_ids, 2, "decoder_input_ids", "[batch, target_length]")
        check_integer_dtype(decoder_input_ids, "decoder_input_ids")
        # Eager only (free in graphs and TFLite): an id past the table fails deep in the embedding gather.
        check_ids_in_range(inputs["source_ids"], self.vocabulary_size, "source_ids")
        check_ids_in_range(decoder_input_ids, self.target_vocabulary_size or self.vocabulary_size, "decoder_input_ids")
        return inputs["source_ids"], inputs.get("source_padding_mask"), decoder_input_ids

    def build(self, input_shape):
        # Run the forward pass once on zeros so that every sublayer (and the
        # decoder cell, stepped by hand in generation) creates its variables;
        # `.keras` loading then finds them all.
        def length(name, default):
            shape = input_shape.get(name) if isinstance(input_shape, dict) else None
            return (shape[1] if shape is not None and shape[1] is not None else default)

        zeros = {
            "source_ids": ops.zeros((1, length("source_ids", 2)), "int32"),
            "source_padding_mask": ops.ones((1, length("source_ids", 2)), "int32"),
            "decoder_input_ids": ops.zeros((1, length("decoder_input_ids", 2)), "int32"),
        }
        self.call(zeros)
        self.built = True

    def call(self, inputs, training=None):
        source_ids, source_padding_mask, decoder_input_ids = self._unpack(inputs)
        encoded, states, mask = self.encode(source_ids, source_padding_mask, training)
        target_length = decoder_input_ids.shape[1]
        if not self.input_feeding:
            x = self.dropout_layer(self.target_embedding(decoder_input_ids), training=training)  # [B, T, E]
            # Unrolled when T is static: the TFLite converter cannot lower the
            # symbolic loop's TensorLists (see RNNEncoder `unroll`).
            self.decoder_rnn.unroll = target_length is not None
            hidden = self.decoder_rnn(x, initial_state=states, training=training)  # [B, T, U]
            if self.attention_layer is not None:
                hidden, _ = self._attend(hidden, encoded, mask)
            return self._logits(hidden, training)
        if target_length is None:
            raise ValueError("With `input_feeding=True` the decoder is stepped per position: `decoder_input_ids` needs a static length.")
        keys = self._keys(encoded)
        feed = ops.zeros((ops.shape(encoded)[0], self.decoder_units), encoded.dtype)
        logits = []
        for t in range(target_length):
            step_logits, states, feed, _ = self.decode_step(
                decoder_input_ids[:, t], states, feed, encoded, keys, mask, training
            )
            logits.append(step_logits)
        return ops.stack(logits, axis=1)  # [B, T, V]

    # --- training -------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, **kwargs):
        if loss is None:
            # Mean over real target tokens: sum(w * CE) / sum(w).
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    # `compile` is overridden, so Keras skips re-compiling on load unless told how: Task's method
    # passes the saved compile arguments back to our `compile`.
    compile_from_config = Task.compile_from_config

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if sample_weight is None and y is not None:
            sample_weight = ops.cast(ops.not_equal(y, self.pad_token_id), "float32")  # padding ignored
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    # --- generation -----------------------------------------------------------
    def generate(self, source_ids, max_length, sampler="greedy", num_beams=4, source_padding_mask=None):
        """Decodes from `start_token_id` for `max_length` steps; tokens after `end_token_id` are `pad_token_id`.

        Args:
            source_ids: int `[B, S]`.
            max_length: M, the number of generated tokens (EOS included).
            sampler: "greedy", "beam", or a `GreedySampler` / `BeamSearch`.
            num_beams: K for `sampler="beam"`.
            source_padding_mask: optional `[B, S]`; default `source_ids != pad_token_id`.

        Returns:
            dict of numpy arrays: `token_ids` int32 `[B, M]`, `scores` float32
            `[B]` (sum of log-probabilities of the generated tokens up to and
            including EOS), and `attention_weights` float32 `[B, M, S]`
            (the weights of each output step over the source; zeros without
            attention, and after EOS), for plotting alignments.
        """
        search = self.generate_function(max_length, sampler, num_beams)
        source_ids = ops.convert_to_tensor(source_ids)
        check_rank(source_ids, 2, "source_ids", "[batch, source_length]")
        check_integer_dtype(source_ids, "source_ids")
        check_ids_in_range(source_ids, self.vocabulary_size, "source_ids")
        source_ids = ops.cast(source_ids, "int32")
        if source_padding_mask is not None:
            source_padding_mask = ops.convert_to_tensor(source_padding_mask)
        mask = self._source_mask(source_ids, source_padding_mask)
        key = (search.keywords["max_length"], search.keywords["k"], search.keywords["length_penalty"])
        if key not in self._generate_functions:
            # autograph=False: the loop is an explicit tf.while_loop.
            self._generate_functions[key] = tf.function(search, autograph=False, reduce_retracing=False)
        outputs = self._generate_functions[key](source_ids, mask)
        return {name: value.numpy() for name, value in outputs.items()}

    def generate_function(self, max_length, sampler="greedy", num_beams=4):
        """The decode loop as a traceable `(source_ids, source_padding_mask) -> dict of tensors`.

        For export: trace it in a `tf.function` with a fixed-shape input
        signature (int32 `[B, S]` both), e.g. as an `ExportArchive` endpoint.
        Every loop variable has a static shape, so the loop converts to a
        TFLite WHILE with builtin ops only. Outputs as `generate`.
        """
        check_positive_int(max_length, "max_length")
        sampler = get_sampler(sampler, num_beams=num_beams) if sampler == "beam" else get_sampler(sampler)
        if not isinstance(sampler, (GreedySampler, BeamSearch)):
            raise ValueError(f"RNNSeq2Seq.generate supports `sampler`='greedy' or 'beam', got {sampler!r}.")
        sampler.check_vocabulary_size(self.target_vocabulary_size or self.vocabulary_size)
        k = sampler.num_beams if isinstance(sampler, BeamSearch) else 1
        length_penalty = getattr(sampler, "length_penalty", 0.0)
        return functools.partial(self._search, max_length=max_length, k=k, length_penalty=length_penalty)

    def _search(self, source_ids, mask, max_length, k, length_penalty):
        """Beam search over K beams (K = 1 is greedy) in a `tf.while_loop` with static-shape loop variables."""
        batch_size, source_length = source_ids.shape[0], source_ids.shape[1]
        vocabulary = self.target_vocabulary_size or self.vocabulary_size
        encoded, states, mask = self.encode(source_ids, mask)
        # Every beam starts as a copy of its source: [B, ...] -> [B * K, ...].
        repeat = lambda x: tf.repeat(x, k, axis=0)  # noqa: E731
        encoded, mask, states = repeat(encoded), repeat(mask), [repeat(s) for s in states]
        keys = self._keys(encoded)
        feed = tf.zeros((batch_size * k, self.decoder_units), encoded.dtype)
        tokens = tf.zeros((batch_size, k, max_length), tf.int32)
        alignments = tf.zeros((batch_size, k, max_length, source_length), tf.float32)
        # Only beam 0 is alive at first, so the first expansion gives K distinct beams.
        scores = tf.tile(tf.constant([[0.0] + [_NEG] * (k - 1)]), [batch_size, 1])  # [B, K]
        done = tf.zeros((batch_size, k), tf.bool)
        lengths = tf.zeros((batch_size, k), tf.int32)
        previous = tf.fill((batch_size * k,), self.start_token_id)
        pad_row = tf.where(tf.range(vocabulary) == self.pad_token_id, 0.0, _NEG)  # a finished beam only extends with padding

        def reorder(x, parents):  # x [B * K, ...] follows the chosen parent beams [B, K]
            shaped = tf.reshape(x, [batch_size, k] + x.shape[1:].as_list())
            return tf.reshape(tf.gather(shaped, parents, axis=1, batch_dims=1), x.shape)

        def body(i, previous, states, feed, tokens, alignments, scores, done, lengths):
            logits, states, feed, weights = self.decode_step(previous, states, feed, encoded, keys, mask)
            log_probs = tf.reshape(tf.nn.log_softmax(logits), [batch_size, k, vocabulary])
            log_probs = tf.where(done[:, :, None], pad_row[None, None], log_probs)
            candidates = tf.reshape(scores[:, :, None] + log_probs, [batch_size, k * vocabulary])
            scores, chosen = tf.math.top_k(candidates, k=k)  # [B, K]
            parents, token = chosen // vocabulary, tf.cast(chosen % vocabulary, tf.int32)
            gather = lambda x: tf.gather(x, parents, axis=1, batch_dims=1)  # noqa: E731
            tokens, alignments, done, lengths = gather(tokens), gather(alignments), gather(done), gather(lengths)
            states = [reorder(s, parents) for s in states]
            feed = reorder(feed, parents)
            step = tf.one_hot(i, max_length, dtype=tf.int32)  # write column i: one-hot multiply-add
            tokens = tokens + token[:, :, None] * step
            if weights is not None:
                weights = reorder(tf.cast(weights, tf.float32), parents)
                weights = tf.reshape(weights, [batch_size, k, source_length]) * tf.cast(~done, tf.float32)[:, :, None]
                alignments = alignments + weights[:, :, None, :] * tf.cast(step, tf.float32)[:, None]
            lengths = lengths + tf.cast(~done, tf.int32)
            done = done | (token == self.end_token_id)
            return i + 1, tf.reshape(token, [-1]), states, feed, tokens, alignments, scores, done, lengths

        def cond(i, previous, states, feed, tokens, alignments, scores, done, lengths):
            return tf.logical_and(i < max_length, tf.logical_not(tf.reduce_all(done)))

        loop_vars = (tf.constant(0), previous, states, feed, tokens, alignments, scores, done, lengths)
        _, _, _, _, tokens, alignments, scores, _, lengths = tf.while_loop(cond, body, loop_vars)
        ranking = scores
        if length_penalty:
            ranking = scores / tf.pow(tf.maximum(tf.cast(lengths, tf.float32), 1.0), length_penalty)
        best = tf.argmax(ranking, axis=1, output_type=tf.int32)  # [B]
        pick = lambda x: tf.gather(x, best, axis=1, batch_dims=1)  # noqa: E731
        return {"token_ids": pick(tokens), "scores": pick(scores), "attention_weights": pick(alignments)}

    # --- config -----------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder_units": self.decoder_units,
                "target_vocabulary_size": self.target_vocabulary_size,
                "attention": self.attention,
                "attention_units": self.attention_units,
                "input_feeding": self.input_feeding,
                "decoder_cell": self.decoder_cell,
                "dropout": self.dropout,
                "pad_token_id": self.pad_token_id,
                "start_token_id": self.start_token_id,
                "end_token_id": self.end_token_id,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("encoder"), dict) and "class_name" in config["encoder"]:
            config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)
