"""score_choices: candidate answers ranked by log-likelihood under a causal LM, no gradient update."""

import keras
import numpy as np
import pytest

from kerasnlp_lite.generation import few_shot_prompt, score_choices
from kerasnlp_lite.models import CausalLM, GPTBackbone
from kerasnlp_lite.tokenizers import WordPieceTokenizer

TINY = dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=16)
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "then"] + [f"w{i}" for i in range(34)]


def _lm(**kwargs):
    keras.utils.set_random_seed(0)
    return CausalLM(GPTBackbone(**dict(TINY, dropout=0.0)), **kwargs)


def _log_prob(lm, prompt, answer):
    """log P(answer | prompt), one unpadded sequence at a time."""
    ids = np.array([prompt + answer], "int32")
    logits = np.asarray(lm({"token_ids": ids, "padding_mask": np.ones_like(ids)}), "float64")[0]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return sum(log_probs[t - 1, ids[0, t]] for t in range(len(prompt), ids.shape[1]))


def test_scores_equal_per_sequence_log_likelihoods():
    lm = _lm()
    prompt, choices = [3, 7, 9], [[11], [12, 13, 14], [15, 16]]
    result = score_choices(lm, prompt, choices, normalize="none")
    expected = np.array([_log_prob(lm, prompt, c) for c in choices])
    np.testing.assert_allclose(result["log_likelihood"], expected, atol=1e-4)
    np.testing.assert_allclose(result["scores"], expected, atol=1e-4)
    assert result["num_tokens"].tolist() == [1, 3, 2]
    assert result["ranking"].tolist() == np.argsort(-expected).tolist() and result["best"] == result["ranking"][0]
    per_token = score_choices(lm, prompt, choices)  # GPT-3's length normalization
    np.testing.assert_allclose(per_token["scores"], expected / np.array([1, 3, 2]), atol=1e-4)


@pytest.mark.slow
def test_a_trained_model_prefers_the_right_answer_in_context():
    # "wA then wB" pairs with B = A + 1: after training, the true successor ranks first.
    lm = _lm(preprocessor=WordPieceTokenizer(VOCABULARY))
    rows = [[6 + a, 5, 7 + a] * 4 for a in range(20)]
    ids = np.array(rows, "int32")[:, :13]
    x = {"token_ids": ids[:, :-1], "padding_mask": np.ones_like(ids[:, :-1])}
    lm.compile(keras.optimizers.Adam(1e-2))
    lm.fit(x, ids[:, 1:], epochs=60, verbose=0)
    correct = 0
    for a in range(20):
        prompt = few_shot_prompt("", [(f"w{a}", f"w{a + 1}")], f"w{a}", output_prefix=" then ", separator=" ")
        candidates = [f"w{a + 1}", f"w{(a + 7) % 20}", f"w{(a + 13) % 20}"]
        correct += score_choices(lm, prompt, candidates)["best"] == 0
    assert correct >= 18, correct


def test_bad_input():
    lm = _lm()
    with pytest.raises(ValueError, match="normalize"):
        score_choices(lm, [1], [[2]], normalize="mean")
    with pytest.raises(ValueError, match="choices"):
        score_choices(lm, [1], [])
    with pytest.raises(ValueError, match="prompt` has no tokens"):
        score_choices(lm, [], [[2]])
    with pytest.raises(ValueError, match=r"choices\[1\]` has no tokens"):
        score_choices(lm, [1], [[2], []])
    with pytest.raises(ValueError, match="max_sequence_length=16"):
        score_choices(lm, list(range(1, 15)), [[2, 3, 4]])
    with pytest.raises(ValueError, match=r"outside \[0, 40\)"):
        score_choices(lm, [1], [[40]])
    with pytest.raises(ValueError, match="no preprocessor"):
        score_choices(lm, "w1", ["w2"])
    with pytest.raises(TypeError, match="token ids"):
        score_choices(lm, [1.5], [[2]])
