"""GPT-1 fine-tuning: ExtractTokenHead, FoldSequences and GPTClassifier (L3 = L2 + lambda L1)."""

import keras
import numpy as np
import pytest

from kerasnlp_lite.data.gpt_inputs import classification_input, multiple_choice_inputs, similarity_inputs
from kerasnlp_lite.heads import ExtractTokenHead
from kerasnlp_lite.models import GPTBackbone, GPTClassifier
from kerasnlp_lite.models.gpt.gpt_classifier import FoldSequences
from tests.test_case import assert_allclose, check_keras_round_trip, run_layer_test

TINY = dict(vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)
START, DELIM, EXTRACT = 27, 28, 29
rng = np.random.default_rng(0)
SEQUENCE = rng.standard_normal((4, 6, 8)).astype("float32")
MASK = (np.arange(6)[None] < np.array([[6], [3], [1], [4]])).astype("int32")


def _pad(rows, length=12):
    ids = np.zeros((len(rows), length), "int32")
    mask = np.zeros((len(rows), length), "int32")
    for i, row in enumerate(rows):
        ids[i, : len(row)], mask[i, : len(row)] = row, 1
    return ids, mask


def _classifier(**kwargs):
    keras.utils.set_random_seed(0)
    return GPTClassifier(GPTBackbone(**dict(TINY, dropout=0.0)), **kwargs)


@pytest.mark.parametrize(
    "kwargs, shape",
    [({"num_classes": 3}, (4, 3)), ({"num_classes": 5, "num_sequences": 2}, (2, 5)),
     ({"num_classes": 2, "num_sequences": 2, "combine": "choice"}, (2, 2))],
    ids=["single", "sum", "choice"],
)
def test_extract_token_head_basics(kwargs, shape):
    run_layer_test(
        ExtractTokenHead,
        init_kwargs=dict(kwargs, dropout=0.1),
        input_data={"sequence_output": SEQUENCE, "padding_mask": MASK},
        expected_output_shape=shape,
        expected_output_dtype="float32",
        mixed_precision_output_dtype="float32",
    )


def test_extract_token_head_reads_the_last_real_token():
    head = ExtractTokenHead(3, dropout=0.0)
    logits = np.asarray(head(SEQUENCE, MASK))
    last = SEQUENCE[np.arange(4), MASK.sum(1) - 1]  # h_l^m of each row
    kernel, bias = (w.numpy() for w in head.dense.weights)
    assert_allclose(logits, last @ kernel + bias, atol=1e-5)
    # Changing padded positions changes nothing.
    noisy = SEQUENCE + 100.0 * (1 - MASK)[..., None]
    assert_allclose(np.asarray(head(noisy, MASK)), logits, atol=1e-5)
    summed = ExtractTokenHead(3, num_sequences=2, dropout=0.0)
    summed.build(SEQUENCE.shape)
    summed.dense.set_weights([kernel, bias])
    pairs = last.reshape(2, 2, 8).sum(1)  # similarity: the two orders' representations added
    assert_allclose(np.asarray(summed(SEQUENCE, MASK)), pairs @ kernel + bias, atol=1e-5)


def test_extract_token_head_bad_arguments():
    with pytest.raises(ValueError, match="combine"):
        ExtractTokenHead(2, combine="mean")
    with pytest.raises(ValueError, match="num_classes` must equal"):
        ExtractTokenHead(3, num_sequences=2, combine="choice")
    with pytest.raises(ValueError, match="sequence_output"):
        ExtractTokenHead(2)(SEQUENCE[:, 0], MASK)


def test_fold_sequences_basics():
    data = rng.integers(0, 9, (3, 2, 5)).astype("int32")
    out = run_layer_test(
        FoldSequences, init_kwargs={"num_sequences": 2}, input_data={"inputs": data},
        expected_output_shape=(6, 5), run_training_check=False, mixed_precision_output_dtype="int32",
    )
    np.testing.assert_array_equal(np.asarray(out), data.reshape(6, 5))


def test_outputs_and_the_l3_loss_by_hand():
    model = _classifier(num_classes=3, lm_loss_weight=0.5)
    ids, mask = _pad([classification_input([3, 4, 5, 6], START, EXTRACT), classification_input([7, 8], START, EXTRACT)])
    x, labels = {"token_ids": ids, "padding_mask": mask}, np.array([2, 0])
    outputs = model(x)
    assert outputs["logits"].shape == (2, 3) and outputs["lm_logits"].shape == (2, 12, 30)
    model.compile()
    result = model.evaluate(x, labels, return_dict=True, verbose=0)

    def nll(logits, targets):
        logits = np.asarray(logits, "float64")
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]

    l2 = nll(outputs["logits"], labels).mean()
    weights = mask[:, 1:] * mask[:, :-1]  # 6 + 4 next-token predictions
    l1 = (nll(np.asarray(outputs["lm_logits"])[:, :-1], ids[:, 1:]) * weights).sum() / weights.sum()
    assert result["loss"] == pytest.approx(l2 + 0.5 * l1, rel=1e-5)
    without_lm = _classifier(num_classes=3, lm_loss_weight=0.0)
    assert list(without_lm(x)) == ["logits"]
    without_lm.compile()
    assert without_lm.evaluate(x, labels, return_dict=True, verbose=0)["loss"] == pytest.approx(l2, rel=1e-5)
    assert model.predict(x, verbose=0).shape == (2, 3)  # predict: class logits only


def test_similarity_and_multiple_choice_inputs():
    pair = similarity_inputs([3, 4], [5, 6, 7], START, DELIM, EXTRACT)
    ids, mask = _pad(pair)
    x = {"token_ids": ids[None], "padding_mask": mask[None]}  # [1, 2, T]
    similarity = _classifier(num_classes=1, num_sequences=2)
    assert similarity(x)["logits"].shape == (1, 1)
    # The two orders are added: swapping them changes nothing.
    swapped = {k: v[:, ::-1].copy() for k, v in x.items()}
    assert_allclose(np.asarray(similarity(swapped)["logits"]), np.asarray(similarity(x)["logits"]), atol=1e-5)
    candidates = multiple_choice_inputs([3, 4, 5], [[6], [7, 8], [9]], START, DELIM, EXTRACT)
    ids, mask = _pad(candidates)
    choice = _classifier(num_classes=3, num_sequences=3, combine="choice")
    logits = np.asarray(choice({"token_ids": ids[None], "padding_mask": mask[None]})["logits"])
    assert logits.shape == (1, 3)
    # Candidate k's score depends on its own sequence only.
    alone = np.asarray(choice({"token_ids": np.repeat(ids[None, 1:2], 3, 1), "padding_mask": np.repeat(mask[None, 1:2], 3, 1)})["logits"])
    assert_allclose(alone[0], np.full(3, logits[0, 1]), atol=1e-5)


@pytest.mark.slow
def test_fine_tuning_learns_and_the_lm_loss_falls():
    # Label = whether token 5 occurs in the text; the LM term trains the backbone too.
    data_rng = np.random.default_rng(1)
    rows, labels = [], []
    for _ in range(128):
        text = list(data_rng.integers(6, 20, data_rng.integers(3, 9)))
        label = int(data_rng.random() < 0.5)
        if label:
            text[data_rng.integers(len(text))] = 5
        rows.append(classification_input([int(t) for t in text], START, EXTRACT))
        labels.append(label)
    ids, mask = _pad(rows)
    x, y = {"token_ids": ids, "padding_mask": mask}, np.array(labels)
    model = _classifier(num_classes=2, lm_loss_weight=0.5)
    model.compile(keras.optimizers.Adam(3e-3))
    lm_before = float(model.language_model_loss(x, model(x)["lm_logits"]))
    model.fit(x, y, batch_size=32, epochs=25, verbose=0)
    result = model.evaluate(x, y, return_dict=True, verbose=0)
    assert result["accuracy"] >= 0.95, result
    assert float(model.language_model_loss(x, model(x)["lm_logits"])) < 0.9 * lm_before
    predict = lambda m: m.predict(x, verbose=0)  # noqa: E731
    loaded = check_keras_round_trip(model, predict, predict(model), cls=GPTClassifier)
    assert loaded.lm_loss_weight == 0.5
    assert loaded.evaluate(x, y, return_dict=True, verbose=0)["loss"] == pytest.approx(result["loss"], rel=1e-4)


def test_bad_arguments():
    backbone = GPTBackbone(**TINY)
    with pytest.raises(ValueError, match="lm_loss_weight"):
        GPTClassifier(backbone, num_classes=2, lm_loss_weight=-1)
    with pytest.raises(ValueError, match="num_sequences"):
        GPTClassifier(backbone, num_classes=2, num_sequences=0)
