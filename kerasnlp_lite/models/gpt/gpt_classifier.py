"""GPT-1 supervised fine-tuning: a classifier on the extract token with the auxiliary LM loss.

Shape legend: B = batch, S = sequences per example, T = tokens, D = hidden_dim,
V = vocabulary, C = classes.
"""

import keras
from keras import ops

from kerasnlp_lite.heads import CausalLMHead, ExtractTokenHead
from kerasnlp_lite.models.task import Task
from kerasnlp_lite.utils.validation import check_positive_int, check_rank, is_number


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class FoldSequences(keras.layers.Layer):
    """`[B, S, T]` -> `[B * S, T]`: runs the S sequences of an example through the backbone as rows."""

    def __init__(self, num_sequences, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(num_sequences, "num_sequences")
        self.num_sequences = num_sequences
        self.built = True

    def call(self, inputs):
        check_rank(inputs, 3, "inputs", f"[batch, num_sequences={self.num_sequences}, sequence_length]")
        return ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))

    def compute_output_spec(self, inputs):
        batch = None if inputs.shape[0] is None else inputs.shape[0] * self.num_sequences
        return keras.KerasTensor((batch, inputs.shape[-1]), dtype=inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config["num_sequences"] = self.num_sequences
        return config


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class GPTClassifier(Task):
    """Fine-tunes a GPT backbone on a labelled task with L3 = L2 + lambda * L1 (GPT-1, section 3.2).

    P(y | x) = softmax(h_l^m W_y) from the last real token's hidden state
    (`ExtractTokenHead`); "including language modeling as an auxiliary
    objective to the fine-tuning helped learning by (a) improving
    generalization of the supervised model, and (b) accelerating
    convergence": L3(C) = L2(C) + lambda * L1(C), with L2 the classification
    cross-entropy and L1 the next-token cross-entropy on the same inputs
    (real tokens only), lambda = 0.5 in the paper.

    Inputs (right-padded, built with `kerasnlp_lite.data.gpt_inputs`):
    `token_ids` and `padding_mask`, int `[B, T]`, or `[B, S, T]` with
    `num_sequences` S > 1 (similarity: the two orders, `combine="sum"`;
    multiple choice: one sequence per candidate, `combine="choice"`).

    Outputs: a dict with `logits` float32 `[B, num_classes]` and, when
    `lm_loss_weight > 0`, `lm_logits` float32 `[B * S, T, V]` (the tied LM
    head, for L1). `predict` returns the class logits only.

    Training: `fit(x, labels)` with int labels `[B]`; `compile()` defaults to
    the L3 loss above (Adam, accuracy). The LM targets come from `x` itself
    (token t predicts token t + 1), so no second label is needed.

    Args:
        backbone: a `GPTBackbone`.
        num_classes: classes (candidates, with `combine="choice"`).
        num_sequences: S, input sequences per example.
        combine: "sum" (add the S representations) or "choice" (a softmax
            over the S candidates); used when S > 1.
        lm_loss_weight: lambda (0 disables the auxiliary LM loss).
        dropout: classifier dropout (GPT-1: 0.1).
        preprocessor: optional.

    Example:
    >>> classifier = GPTClassifier(GPTBackbone.from_preset("gpt1"), num_classes=3)
    >>> classifier.compile(keras.optimizers.Adam(6.25e-5))
    >>> classifier.fit({"token_ids": ids, "padding_mask": mask}, labels)

    Reference:
        Radford et al. 2018, "Improving Language Understanding by Generative
        Pre-Training", sections 3.2-3.3.
    """

    def __init__(
        self,
        backbone,
        num_classes,
        num_sequences=1,
        combine="sum",
        lm_loss_weight=0.5,
        dropout=0.1,
        preprocessor=None,
        **kwargs,
    ):
        check_positive_int(num_sequences, "num_sequences")
        if not is_number(lm_loss_weight) or lm_loss_weight < 0:
            raise ValueError(f"`lm_loss_weight` must be a number >= 0, got {lm_loss_weight!r}.")
        # === Layers ===
        head = ExtractTokenHead(
            num_classes,
            num_sequences=num_sequences,
            combine=combine,
            dropout=dropout,
            dtype=backbone.dtype_policy,
            name="extract_head",
        )
        lm_head = CausalLMHead(backbone.token_embedding, dtype=backbone.dtype_policy, name="lm_head")

        # === Functional model ===
        shape = (None,) if num_sequences == 1 else (num_sequences, None)
        inputs = {
            "token_ids": keras.Input(shape=shape, dtype="int32", name="token_ids"),
            "padding_mask": keras.Input(shape=shape, dtype="int32", name="padding_mask"),
        }
        rows = inputs
        if num_sequences > 1:
            fold = FoldSequences(num_sequences, name="fold_sequences")
            rows = {name: fold(value) for name, value in inputs.items()}  # [B*S, T]
        sequence = backbone(rows)["sequence_output"]
        outputs = {"logits": head(sequence, rows["padding_mask"])}
        if lm_loss_weight > 0:
            outputs["lm_logits"] = lm_head(sequence)
        super().__init__(inputs=inputs, outputs=outputs, backbone=backbone, preprocessor=preprocessor, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.num_sequences = num_sequences
        self.combine = combine
        self.lm_loss_weight = float(lm_loss_weight)
        self.dropout = dropout
        self.extract_head = head
        self.lm_head = lm_head

    def task_config(self):
        return {
            "num_classes": self.num_classes,
            "num_sequences": self.num_sequences,
            "combine": self.combine,
            "lm_loss_weight": self.lm_loss_weight,
            "dropout": self.dropout,
        }

    # --- training ---------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """`loss` is L2 (on the class logits, default sparse cross-entropy);
        the weighted L1 term is added by the model."""
        super().compile(
            optimizer=optimizer,
            loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=metrics if metrics is not None else [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            **kwargs,
        )

    @staticmethod
    def _class_labels(y):
        return y["logits"] if isinstance(y, dict) else y

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # L2 (+ regularization losses) through Keras' compiled loss on the class logits.
        loss = super().compute_loss(x, self._class_labels(y), y_pred["logits"], sample_weight, training=training)
        if self.lm_loss_weight > 0:
            loss = loss + self.lm_loss_weight * self.language_model_loss(x, y_pred["lm_logits"])
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, self._class_labels(y), y_pred["logits"], sample_weight)

    def language_model_loss(self, x, lm_logits):
        """L1: mean next-token cross-entropy over real tokens whose successor is real.

        Args:
            x: the input dict (`token_ids`, `padding_mask`, `[B, (S,) T]`).
            lm_logits: `[B * S, T, V]`.
        """
        width = ops.shape(lm_logits)[1]
        ids = ops.reshape(x["token_ids"], (-1, width))  # [B*S, T]
        mask = ops.cast(ops.reshape(x["padding_mask"], (-1, width)), "float32")
        targets = ids[:, 1:]  # position t predicts token t + 1
        weights = mask[:, 1:] * mask[:, :-1]
        losses = keras.losses.sparse_categorical_crossentropy(targets, lm_logits[:, :-1], from_logits=True)
        return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)

    # --- inference --------------------------------------------------------
    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)["logits"]
