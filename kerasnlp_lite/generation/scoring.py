"""Ranking candidate answers by their log-likelihood under a causal LM (in-context learning).

Brown et al. 2020 (GPT-3, section 2.4): "For tasks that involve choosing one
correct completion from several options (multiple choice), we provide K
examples of context plus correct completion, followed by one example of
context only, and compare the LM likelihood of each completion. For most
tasks we compare the per-token likelihood (to normalize for length)". No
gradient update: the prompt (from `few_shot_prompt`) carries the task.
"""

import numpy as np
from keras import ops

from kerasnlp_lite.utils.validation import is_int

NORMALIZATIONS = ("length", "none")


def _ids(value, name, tokenizer):
    if isinstance(value, (str, bytes)):
        if tokenizer is None:
            raise ValueError(
                f"`{name}` is a string but the model has no preprocessor/tokenizer; pass token ids instead."
            )
        return [int(t) for t in np.asarray(tokenizer.tokenize(value)).reshape(-1)]
    values = list(np.asarray(value).reshape(-1).tolist()) if not isinstance(value, (list, tuple)) else list(value)
    if any(not is_int(v) for v in values):
        raise TypeError(f"`{name}` must be a string or a sequence of int token ids, got {value!r:.200}.")
    return [int(v) for v in values]


def score_choices(model, prompt, choices, normalize="length"):
    """Scores each choice c_k by log P(c_k | prompt) under `model`, without updating it.

    log P(c | prompt) = sum_i log P(c_i | prompt, c_<i), read from one
    forward pass over all the `prompt + choice` sequences (right-padded).

    Args:
        model: a `CausalLM` (strings need its preprocessor/tokenizer).
        prompt: a string or token ids, at least one token (the model needs a
            context to predict the first answer token from).
        choices: a non-empty list of candidate answers, strings or token id
            lists, each at least one token. For strings, the prompt and each
            choice are tokenized separately, so the answer's tokens are the
            same in every sequence; start a choice with a space if the prompt
            ends before a word.
        normalize: "length" ranks by the mean log-probability per answer
            token (GPT-3's default), "none" by the total log-probability.

    Returns:
        A dict of numpy arrays: `log_likelihood` float `[K]` (sums),
        `num_tokens` int `[K]`, `scores` float `[K]` (what is ranked),
        `ranking` int `[K]` (choice indices, best first), and `best` (an int).
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"`normalize` must be one of {NORMALIZATIONS}, got {normalize!r}.")
    tokenizer = None
    if model.preprocessor is not None:
        tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)
    if isinstance(choices, (str, bytes)) or not hasattr(choices, "__len__") or len(choices) == 0:
        raise ValueError(f"`choices` must be a non-empty list of candidate answers, got {choices!r:.200}.")
    context = _ids(prompt, "prompt", tokenizer)
    if not context:
        raise ValueError("`prompt` has no tokens; the first answer token needs a context (e.g. a start token).")
    answers = [_ids(choice, f"choices[{k}]", tokenizer) for k, choice in enumerate(choices)]
    for k, answer in enumerate(answers):
        if not answer:
            raise ValueError(f"`choices[{k}]` has no tokens.")
    vocabulary_size = model.backbone.vocabulary_size
    for name, ids in [("prompt", context)] + [(f"choices[{k}]", a) for k, a in enumerate(answers)]:
        if min(ids) < 0 or max(ids) >= vocabulary_size:
            raise ValueError(f"`{name}` holds token ids outside [0, {vocabulary_size}): {ids}.")
    width = len(context) + max(len(a) for a in answers)
    if width > model.backbone.max_sequence_length:
        raise ValueError(
            f"prompt ({len(context)} tokens) + longest choice ({width - len(context)} tokens) = {width} tokens "
            f"exceeds the model's max_sequence_length={model.backbone.max_sequence_length}; shorten the prompt."
        )

    # One batch of K right-padded rows `prompt + choice_k`: [K, W].
    token_ids = np.zeros((len(answers), width), "int32")
    padding_mask = np.zeros((len(answers), width), "int32")
    for k, answer in enumerate(answers):
        row = context + answer
        token_ids[k, : len(row)], padding_mask[k, : len(row)] = row, 1
    logits = model({"token_ids": token_ids, "padding_mask": padding_mask}, training=False)
    log_probs = ops.convert_to_numpy(ops.log_softmax(ops.cast(logits, "float32"), axis=-1)).astype("float64")
    # Position t predicts token t + 1; the answer occupies [P, P + len_k).
    start = len(context)
    log_likelihood = np.array(
        [sum(log_probs[k, t - 1, token_ids[k, t]] for t in range(start, start + len(a))) for k, a in enumerate(answers)]
    )
    num_tokens = np.array([len(a) for a in answers], "int32")
    scores = log_likelihood / num_tokens if normalize == "length" else log_likelihood
    ranking = np.argsort(-scores, kind="stable")
    return {
        "log_likelihood": log_likelihood,
        "num_tokens": num_tokens,
        "scores": scores,
        "ranking": ranking,
        "best": int(ranking[0]),
    }
