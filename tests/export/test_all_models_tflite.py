"""Every backbone and task not covered by tests/models/test_encoders_tflite.py converts with builtins only.

One conversion (the converter is slow and leaks memory): one functional
model whose outputs are the tasks' outputs, from tiny versions of the presets.
"""

import keras
import numpy as np
import pytest

from kerasnlp_lite.models import (
    AlbertBackbone,
    AlbertPretrainer,
    BertBackbone,
    BertPretrainer,
    CausalLM,
    GPTBackbone,
    GPTClassifier,
    RobertaBackbone,
    RobertaPretrainer,
    TextEmbedder,
    TokenClassifier,
)
from tests.test_case import run_tflite_parity_test

LENGTH, POSITIONS, VOCAB = 16, 3, 60
TINY = dict(vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=LENGTH)


def _input(name, shape=(LENGTH,)):
    return keras.Input(shape, batch_size=1, dtype="int32", name=name)


@pytest.mark.slow
@pytest.mark.tflite
def test_remaining_backbones_and_tasks_convert_with_builtins_and_match():
    keras.utils.set_random_seed(0)
    inputs = {name: _input(name) for name in ("token_ids", "segment_ids", "padding_mask")}
    inputs["mask_positions"] = _input("mask_positions", (POSITIONS,))
    inputs["pair_token_ids"] = _input("pair_token_ids", (2, LENGTH))
    inputs["pair_padding_mask"] = _input("pair_padding_mask", (2, LENGTH))
    encoder_inputs = {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    gpt_inputs = {k: inputs[k] for k in ("token_ids", "padding_mask")}
    masked = dict(encoder_inputs, mask_positions=inputs["mask_positions"])

    bert = lambda: BertBackbone.from_preset("bert_tiny", **TINY)  # noqa: E731
    gpt = lambda: GPTBackbone.from_preset("gpt2_small", **TINY)  # noqa: E731
    token_classifier = TokenClassifier(bert(), num_classes=5)
    embedder = TextEmbedder(bert())
    bert_pretrainer = BertPretrainer(bert())
    albert_pretrainer = AlbertPretrainer(AlbertBackbone.from_preset("albert_base", **TINY, embedding_dim=8))
    roberta_pretrainer = RobertaPretrainer(RobertaBackbone.from_preset("roberta_base", **TINY))
    gpt_backbone = gpt()
    causal_lm = CausalLM(gpt())
    gpt_classifier = GPTClassifier(gpt(), num_classes=3)
    gpt_choice = GPTClassifier(gpt(), num_classes=2, num_sequences=2, combine="choice")

    bert_out = bert_pretrainer(masked)
    albert_out = albert_pretrainer(masked)
    classifier_out = gpt_classifier(gpt_inputs)
    outputs = {
        "token_classifier": token_classifier(encoder_inputs),
        "embedder": embedder(encoder_inputs),
        "bert_mlm": bert_out["mlm_logits"],
        "bert_nsp": bert_out["nsp_logits"],
        "albert_mlm": albert_out["mlm_logits"],
        "albert_sop": albert_out["sop_logits"],
        "roberta_mlm": roberta_pretrainer(
            {k: masked[k] for k in ("token_ids", "padding_mask", "mask_positions")}
        )["mlm_logits"],
        "gpt": gpt_backbone(gpt_inputs)["sequence_output"],
        "causal_lm": causal_lm(gpt_inputs),
        "gpt_classifier": classifier_out["logits"],
        "gpt_classifier_lm": classifier_out["lm_logits"],
        "gpt_choice": gpt_choice(
            {"token_ids": inputs["pair_token_ids"], "padding_mask": inputs["pair_padding_mask"]}
        )["logits"],
    }
    model = keras.Model(inputs, outputs)

    rng = np.random.default_rng(0)
    mask = (np.arange(LENGTH)[None] < 11).astype("int32")  # 11 real tokens, right padding
    pair_mask = np.stack([np.arange(LENGTH) < 9, np.arange(LENGTH) < 14])[None].astype("int32")
    data = {
        "token_ids": rng.integers(2, VOCAB, (1, LENGTH)).astype("int32") * mask,
        "segment_ids": (np.arange(LENGTH)[None] >= 6).astype("int32") * mask,
        "padding_mask": mask,
        "mask_positions": np.array([[1, 4, 9]], "int32"),
        "pair_token_ids": rng.integers(2, VOCAB, (1, 2, LENGTH)).astype("int32") * pair_mask,
        "pair_padding_mask": pair_mask,
    }
    worst, op_names = run_tflite_parity_test(model, data)
    print(f"all remaining models: max abs diff {worst:.3g}, ops {op_names}")
    assert worst <= 1e-5
    assert "GATHER" in op_names  # token embeddings, mask positions
    assert "BATCH_MATMUL" in op_names or "FULLY_CONNECTED" in op_names
