"""Classification heads: sequence-level (NSP/SOP, text classes) and token-level."""

import keras
from keras import ops

from kerasnlp_lite.utils.validation import check_positive_int, check_rank, check_rate, fresh_initializer


class _DenseHead(keras.layers.Layer):
    """Dropout then a dense layer to `num_classes` float32 logits."""

    expected_rank = None
    expected_shape = ""

    def __init__(
        self,
        num_classes,
        dropout=0.0,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_classes, "num_classes")
        check_rate(dropout, "dropout")
        self.num_classes = num_classes
        self.dropout = dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")
        self.dense = keras.layers.Dense(
            num_classes, kernel_initializer=fresh_initializer(self.kernel_initializer), dtype=self.dtype_policy, name="logits"
        )

    def build(self, inputs_shape):
        self.dense.build(inputs_shape)
        self.built = True

    def call(self, inputs, training=None):
        check_rank(inputs, self.expected_rank, "inputs", self.expected_shape)
        return ops.cast(self.dense(self.dropout_layer(inputs, training=training)), "float32")

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(tuple(inputs.shape[:-1]) + (self.num_classes,), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class ClassificationHead(_DenseHead):
    """`[B, H]` pooled vector -> `[B, num_classes]` float32 logits (dropout, dense).

    Args:
        num_classes: number of classes.
        dropout: dropout before the dense layer.
        kernel_initializer: initializer of the dense kernel.
    """

    expected_rank = 2
    expected_shape = "[batch, hidden_dim]"


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class NextSentenceHead(ClassificationHead):
    """BERT's next-sentence (and ALBERT's sentence-order) head: pooled output -> 2 logits.

    Labels follow BERT's `create_pretraining_data.py` (`is_random_next`) and
    `kerasnlp_lite.data`: for NSP 0 = B is the next sentence, 1 = B is a
    random sentence; for SOP 0 = in order, 1 = swapped.
    """

    def __init__(self, num_classes=2, **kwargs):
        super().__init__(num_classes=num_classes, **kwargs)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TokenClassificationHead(_DenseHead):
    """`[B, T, H]` sequence output -> `[B, T, num_classes]` float32 logits (tagging, NER)."""

    expected_rank = 3
    expected_shape = "[batch, sequence_length, hidden_dim]"
