"""BERT pretraining: masked-LM plus next-sentence prediction (Devlin et al. 2019)."""

import keras
import tensorflow as tf

from kerasnlp_lite.heads import MaskedLMHead, NextSentenceHead
from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.models.task import Task
from kerasnlp_lite.utils.validation import check_backbone_kind, check_bool


def sparse_loss():
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
        next_sentence = check_bool(next_sentence, "next_sentence")
        # Masked LM needs a bidirectional encoder; a causal decoder (GPT) has no pooled output either.
        check_backbone_kind(
            backbone, type(self).__name__, "an encoder backbone (BERT, ALBERT, RoBERTa)", ["pooled_output"],
            ["token_embedding"],
        )
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
            loss = {"mlm_logits": sparse_loss()}
            if self.next_sentence:
                loss[self.sentence_output] = sparse_loss()
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def task_config(self):
        return {"next_sentence": self.next_sentence}
