"""Tasks on encoder backbones (BERT, ALBERT, RoBERTa): pretraining, classification, embeddings."""

import keras
import tensorflow as tf
from keras import ops

from kerasnlp_lite.heads import ClassificationHead, MaskedLMHead, NextSentenceHead, TokenClassificationHead
from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.models.task import Task
from kerasnlp_lite.utils.validation import check_positive_int


def _sparse_loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class BertPretrainer(Task):
    """Masked-LM plus (optionally) next-sentence prediction (Devlin et al. 2019, section 3.1).

    Inputs: the backbone's inputs plus `mask_positions` int `[B, P]`.
    Outputs: `mlm_logits` `[B, P, V]` and, with `next_sentence=True`,
    `nsp_logits` `[B, 2]`. Train with `y={"mlm_logits": mask_ids,
    "nsp_logits": labels}` and `sample_weight={"mlm_logits": mask_weights}`
    (from `kerasnlp_lite.data.mask_language_model`). The default loss
    (`compile()`) is sparse cross-entropy on both, summed.

    Args:
        backbone: an encoder backbone with `token_embedding`.
        next_sentence: add the NSP head (BERT: yes; RoBERTa: no).
        preprocessor: optional.
    """

    sentence_output = "nsp_logits"

    def __init__(self, backbone, next_sentence=True, preprocessor=None, **kwargs):
        inputs = dict(backbone.input)
        inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
        features = backbone({k: v for k, v in inputs.items() if k != "mask_positions"})
        mlm_head = MaskedLMHead(
            vocabulary_size=backbone.vocabulary_size,
            token_embedding=backbone.token_embedding,
            activation=backbone.activation,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        outputs = {"mlm_logits": mlm_head(features["sequence_output"], inputs["mask_positions"])}
        if next_sentence:
            sentence_head = NextSentenceHead(dtype=backbone.dtype_policy, name="sentence_head")
            outputs[self.sentence_output] = sentence_head(features["pooled_output"])
        super().__init__(inputs=inputs, outputs=outputs, backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.next_sentence = next_sentence
        self.mlm_head = mlm_head

    def _check_sentence_labels(self, y):
        if self.next_sentence and y is None:
            raise ValueError(
                f"{type(self).__name__} with a sentence head needs sentence pairs `x=(first, second)` and their "
                f"labels as `y` ({self.sentence_output}); for masked LM alone build it with next_sentence=False."
            )
        if not self.next_sentence and y is not None:
            raise ValueError(f"{type(self).__name__} without a sentence head takes texts alone: no `y`.")

    def text_batch(self, x, y=None, sample_weight=None, seed=None):
        """Raw text -> masked batch (the preprocessor masks on the fly); `y` = sentence labels for NSP/SOP."""
        self._check_sentence_labels(y)
        x, targets, weights = self.preprocessor.training_batch(x, y, sample_weight, seed=seed)
        if "sentence" in targets:
            targets[self.sentence_output] = targets.pop("sentence")
            weights[self.sentence_output] = tf.ones_like(targets[self.sentence_output], tf.float32)
        return x, targets, weights

    def check_text_targets(self, y, sample_weight, n):
        self._check_sentence_labels(y)
        y, sample_weight = super().check_text_targets(y, sample_weight, n)
        return text_inputs.check_class_labels(y, 2, "y"), sample_weight

    def compile(self, optimizer="adam", loss=None, **kwargs):
        if loss is None:
            loss = {"mlm_logits": _sparse_loss()}
            if self.next_sentence:
                loss[self.sentence_output] = _sparse_loss()
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def task_config(self):
        return {"next_sentence": self.next_sentence}


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class AlbertPretrainer(BertPretrainer):
    """Masked-LM plus sentence-order prediction (Lan et al. 2019, section 4.2).

    Same wiring as `BertPretrainer`; the sentence head predicts whether two
    consecutive segments are in order (`sop_logits`, data from
    `kerasnlp_lite.data.sentence_order_pairs`).
    """

    sentence_output = "sop_logits"


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class RobertaPretrainer(BertPretrainer):
    """Masked-LM only (Liu et al. 2019: NSP removed; masks drawn anew each epoch
    by the data pipeline, `kerasnlp_lite.data` dynamic masking)."""

    def __init__(self, backbone, next_sentence=False, preprocessor=None, **kwargs):
        if next_sentence:
            raise ValueError("RoBERTa has no next-sentence objective; use BertPretrainer for NSP.")
        super().__init__(backbone, next_sentence=False, preprocessor=preprocessor, **kwargs)


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class TextClassifier(Task):
    """Sequence classification from the pooled [CLS] vector: logits `[B, num_classes]`."""

    def __init__(self, backbone, num_classes, dropout=0.1, preprocessor=None, **kwargs):
        check_positive_int(num_classes, "num_classes")
        inputs = backbone.input
        head = ClassificationHead(num_classes, dropout=dropout, dtype=backbone.dtype_policy, name="classifier_head")
        outputs = head(backbone(inputs)["pooled_output"])
        super().__init__(inputs=inputs, outputs=outputs, backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.num_classes = num_classes
        self.dropout = dropout

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
            loss=loss or _sparse_loss(),
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
