"""Deep and bidirectional recurrent encoders on Keras' own LSTM / GRU / SimpleRNN layers.

Shape legend: B = batch, T = source length, E = input width, U = units,
D = output width (U, or 2U for a bidirectional "concat" stack).
"""

import keras
from keras import ops

from kerasnlp_lite.utils.validation import (
    check_float_dtype,
    check_positive_int,
    check_rank,
    check_rate,
    fresh_initializer,
)

RNN_LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}
MERGE_MODES = ("concat", "sum")


def check_cell(cell, name="cell"):
    if cell not in RNN_LAYERS:
        raise ValueError(f"`{name}` must be one of {sorted(RNN_LAYERS)}, got {cell!r}.")


def num_states(cell):
    """State tensors of one cell: (h, c) for an LSTM, h otherwise."""
    return 2 if cell == "lstm" else 1


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RNNEncoder(keras.layers.Layer):
    """A stack of `num_layers` recurrent layers, optionally bidirectional.

    Layer l > 0 reads the (merged) outputs of layer l - 1, with dropout
    between layers only (the non-recurrent connections, Zaremba et al. 2014).
    A bidirectional layer runs a forward and a backward RNN (Schuster &
    Paliwal 1997) and combines them by `merge_mode`: "concat" (D = 2U, as
    Bahdanau et al. 2015 annotate each source word) or "sum" (D = U).

    The padding mask is passed to Keras' recurrent layers, which carry the
    state unchanged over masked steps: with right padding the forward final
    state is the state after the last real token, and the backward RNN starts
    from its zero state at the last real token. Outputs at padded positions
    are set to zero.

    Args:
        units: U, the state width of every layer (and each direction).
        cell: "lstm" (Hochreiter & Schmidhuber 1997), "gru" (Cho et al.
            2014) or "simple" (Elman).
        num_layers: depth of the stack.
        bidirectional: run each layer in both directions.
        merge_mode: "concat" or "sum", for both the sequence output and the
            final states of a bidirectional layer.
        dropout: dropout rate between layers.
        unroll: unroll the time loop. None (default): unroll when the
            sequence length is static. A symbolic loop keeps per-step
            TensorLists whose element shape has the unknown batch size, which
            the TFLite converter cannot lower to builtins; unrolled, the
            model converts to builtins (and trains faster on CPU at these
            lengths), at the cost of a larger graph.
        kernel_initializer, recurrent_initializer: of every recurrent layer.

    Call arguments:
        inputs: float `[B, T, E]` (embedded tokens).
        padding_mask: optional int or bool `[B, T]`, 1 at real positions.
        training: Python bool, enables dropout.

    Returns:
        `(sequence_output, final_states)`: the top layer's outputs
        `[B, T, D]`, and its final states as a list as Keras' `return_state`
        gives them: `[h, c]` for an LSTM, `[h]` otherwise, each `[B, D]`.

    Example:
    >>> encoder = RNNEncoder(units=32, cell="gru", num_layers=2, bidirectional=True)
    >>> outputs, [h] = encoder(keras.random.normal((2, 7, 16)), padding_mask=mask)
    >>> outputs.shape, h.shape
    ((2, 7, 64), (2, 64))
    """

    def __init__(
        self,
        units,
        cell="lstm",
        num_layers=1,
        bidirectional=False,
        merge_mode="concat",
        dropout=0.0,
        unroll=None,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(units, "units")
        check_cell(cell)
        check_positive_int(num_layers, "num_layers")
        if not isinstance(bidirectional, bool):
            raise TypeError(f"`bidirectional` must be a bool, got {bidirectional!r}.")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"`merge_mode` must be one of {MERGE_MODES}, got {merge_mode!r}.")
        check_rate(dropout, "dropout")
        if unroll is not None and not isinstance(unroll, bool):
            raise TypeError(f"`unroll` must be None (auto), True or False, got {unroll!r}.")
        self.units = units
        self.cell = cell
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.merge_mode = merge_mode
        self.dropout = dropout
        self.unroll = unroll
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.supports_masking = False

        self.rnn_layers = []
        for i in range(num_layers):
            rnn = RNN_LAYERS[cell](
                units,
                return_sequences=True,
                return_state=True,
                kernel_initializer=fresh_initializer(self.kernel_initializer),
                recurrent_initializer=fresh_initializer(self.recurrent_initializer),
                dtype=self.dtype_policy,
                name=f"{cell}_{i}",
            )
            if bidirectional:
                # merge_mode=None: keep both directions, merged below together with the states.
                rnn = keras.layers.Bidirectional(rnn, merge_mode=None, dtype=self.dtype_policy, name=f"bidirectional_{i}")
            self.rnn_layers.append(rnn)
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

    @property
    def output_dim(self):
        """D: the width of the sequence output and of each final state."""
        return 2 * self.units if self.bidirectional and self.merge_mode == "concat" else self.units

    @property
    def num_states(self):
        return num_states(self.cell)

    def _merge(self, forward, backward):
        if self.merge_mode == "concat":
            return ops.concatenate([forward, backward], axis=-1)
        return forward + backward

    def build(self, inputs_shape, padding_mask_shape=None):
        shape = tuple(inputs_shape)
        for rnn in self.rnn_layers:
            rnn.build(shape)
            width = 2 * self.units if self.bidirectional else self.units
            shape = shape[:-1] + (width,)
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        check_rank(inputs, 3, "inputs", "[batch, sequence_length, input_dim]")
        check_float_dtype(inputs, "inputs")
        mask = None
        if padding_mask is not None:
            check_rank(padding_mask, 2, "padding_mask", "[batch, sequence_length]")
            if inputs.shape[1] is not None and padding_mask.shape[1] is not None and inputs.shape[1] != padding_mask.shape[1]:
                raise ValueError(
                    f"`padding_mask` must have shape [batch, sequence_length={inputs.shape[1]}], "
                    f"got shape {tuple(padding_mask.shape)}."
                )
            mask = ops.cast(padding_mask, "bool")
        unroll = self.unroll if self.unroll is not None else inputs.shape[1] is not None
        for rnn in self.rnn_layers:
            # Both are read by Keras' RNN.call at call time. Bidirectional sets
            # zero_output_for_mask=True, and Keras 3.15's unrolled loop then
            # zeroes the go_backwards outputs with the mask in forward time
            # order (wrong positions); we zero padded outputs ourselves below,
            # and the next layer ignores masked steps, so keep it off.
            for inner in (rnn.forward_layer, rnn.backward_layer) if self.bidirectional else (rnn,):
                inner.unroll = unroll
                inner.zero_output_for_mask = False
        x = inputs
        states = []
        n = self.num_states
        for i, rnn in enumerate(self.rnn_layers):
            if i > 0:
                x = self.dropout_layer(x, training=training)
            outputs = rnn(x, mask=mask, training=training)
            if self.bidirectional:
                # [forward_seq, backward_seq, *forward_states, *backward_states]
                forward, backward = outputs[0], outputs[1]
                x = ops.concatenate([forward, backward], axis=-1)  # next layer's input [B, T, 2U]
                sequence_output = self._merge(forward, backward)
                states = [self._merge(f, b) for f, b in zip(outputs[2 : 2 + n], outputs[2 + n :])]
            else:
                x, states = outputs[0], list(outputs[1:])
                sequence_output = x
        if mask is not None:
            sequence_output = sequence_output * ops.cast(mask, sequence_output.dtype)[:, :, None]
        return sequence_output, states

    def compute_output_shape(self, inputs_shape, padding_mask_shape=None):
        batch, length = inputs_shape[0], inputs_shape[1]
        return (batch, length, self.output_dim), [(batch, self.output_dim)] * self.num_states

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "cell": self.cell,
                "num_layers": self.num_layers,
                "bidirectional": self.bidirectional,
                "merge_mode": self.merge_mode,
                "dropout": self.dropout,
                "unroll": self.unroll,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            }
        )
        return config
