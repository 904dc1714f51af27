"""Tasks on any encoder backbone (BERT, ALBERT, RoBERTa): classification, token classification, embeddings.

Each family's pretraining task lives in its folder (`bert/bert_pretrainer.py`, ...)."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasnlp_lite.heads import ClassificationHead, TokenClassificationHead
from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.models.bert.bert_pretrainer import sparse_loss
from kerasnlp_lite.models.task import Task
from kerasnlp_lite.utils.validation import check_backbone_kind, check_bool, check_positive_int


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TextClassifier(Task):
    """Sequence classification from the pooled [CLS] vector: logits `[B, num_classes]`."""

    def __init__(self, backbone, num_classes, dropout=0.1, preprocessor=None, **kwargs):
        check_positive_int(num_classes, "num_classes")
        check_backbone_kind(backbone, "TextClassifier", "an encoder backbone (BERT, ALBERT, RoBERTa)", ["pooled_output"])
        inputs = backbone.input
        head = ClassificationHead(num_classes, dropout=dropout, dtype=backbone.dtype_policy, name="classifier_head")
        outputs = head(backbone(inputs)["pooled_output"])
        super().__init__(inputs=inputs, outputs=outputs, backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.num_classes = num_classes
        self.dropout = dropout

    def fit(self, x=None, y=None, *args, **kwargs):
        """`Task.fit`; in-memory token-id inputs get the label checks that text inputs get."""
        if isinstance(x, dict) and x and y is not None and not text_inputs.contains_text(x):
            # Keras would train on 0.5 as class 0 (a silent cast) and report a mismatch in sizes deep inside.
            n = len(next(iter(x.values())))
            y = text_inputs.check_class_labels(text_inputs.check_aligned(y, n, "y"), self.num_classes, "y")
        return super().fit(x, y, *args, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        """`Task.predict`; a flat list of numbers is neither texts nor the backbone's input dict."""
        if isinstance(x, (list, tuple)) and x and all(np.ndim(v) == 0 and not isinstance(v, (str, bytes)) for v in x):
            raise TypeError(
                f"`x` must be strings (a list or array, with a preprocessor) or the backbone's inputs (a dict of "
                f"arrays: {sorted(self.backbone.input)}), got a list of {type(x[0]).__name__}."
            )
        return super().predict(x, batch_size=batch_size, **kwargs)

    def check_text_targets(self, y, sample_weight, n):
        y, sample_weight = super().check_text_targets(y, sample_weight, n)
        return text_inputs.check_class_labels(y, self.num_classes, "y"), sample_weight

    def text_batch(self, x, y=None, sample_weight=None, seed=None):
        if y is not None:
            # Labels from a dataset are checked here (in-memory ones eagerly, by `check_text_targets`).
            y = tf.convert_to_tensor(y)
            check = tf.debugging.assert_less(
                tf.cast(y, tf.int64), tf.cast(self.num_classes, tf.int64),
                message=f"`y` holds class ids >= num_classes={self.num_classes}",
            )
            with tf.control_dependencies([check, tf.debugging.assert_non_negative(y, message="`y` holds negative class ids")]):
                y = tf.identity(y)
        return super().text_batch(x, y, sample_weight, seed)

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        super().compile(
            optimizer=optimizer,
            loss=loss or sparse_loss(),
            metrics=metrics if metrics is not None else [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            **kwargs,
        )

    def task_config(self):
        return {"num_classes": self.num_classes, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TokenClassifier(TextClassifier):
    """Per-token classification (tagging): logits `[B, T, num_classes]`."""

    def __init__(self, backbone, num_classes, dropout=0.1, preprocessor=None, **kwargs):
        check_positive_int(num_classes, "num_classes")
        inputs = backbone.input
        head = TokenClassificationHead(num_classes, dropout=dropout, dtype=backbone.dtype_policy, name="token_head")
        outputs = head(backbone(inputs)["sequence_output"])
        Task.__init__(self, inputs=inputs, outputs=outputs, backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.num_classes = num_classes
        self.dropout = dropout

    def check_text_targets(self, y, sample_weight, n):
        if y is not None:
            raise ValueError(
                "TokenClassifier cannot align per-token labels with raw text (the tokenizer splits words); "
                "tokenize first and pass token ids with labels per token."
            )
        return super().check_text_targets(y, sample_weight, n)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TextEmbedder(Task):
    """Sentence embeddings: mean of the sequence output over real tokens, optionally L2-normalized.

    The pooling of Sentence-BERT (Reimers and Gurevych 2019) and of the
    all-MiniLM checkpoints: sum(h_t * m_t) / max(sum(m_t), 1e-9), then
    h / max(||h||, 1e-12) when `normalize`. Output: float32 `[B, H]`.
    """

    def __init__(self, backbone, normalize=True, preprocessor=None, **kwargs):
        normalize = check_bool(normalize, "normalize")
        inputs = backbone.input
        sequence = ops.cast(backbone(inputs)["sequence_output"], "float32")
        mask = ops.expand_dims(ops.cast(inputs["padding_mask"], "float32"), -1)  # [B, T, 1]
        summed = ops.sum(sequence * mask, axis=1)
        counts = ops.maximum(ops.sum(mask, axis=1), 1e-9)
        embeddings = summed / counts
        if normalize:
            norm = ops.sqrt(ops.sum(ops.square(embeddings), axis=-1, keepdims=True))
            embeddings = embeddings / ops.maximum(norm, 1e-12)
        super().__init__(inputs=inputs, outputs=embeddings, backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.normalize = normalize

    def task_config(self):
        return {"normalize": self.normalize}
