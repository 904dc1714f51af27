"""GPT-1's task-specific input transformations (Radford et al. 2018, section 3.3, figure 1).

Fine-tuning feeds structured inputs to the pretrained left-to-right model as
single token sequences framed by learned special tokens: a start token, a
delimiter between parts, and an extract token whose final hidden state feeds
the linear output layer. All functions work on lists of token ids (one
example) and return lists of ids; pack them to fixed length afterwards.
"""

from kerasnlp_lite.utils.validation import is_int


def _ids(value, name):
    values = list(value)
    if any(not is_int(v) for v in values):
        raise TypeError(f"`{name}` must be a sequence of int token ids, got {value!r}.")
    return values


def _special(value, name):
    if not is_int(value):
        raise TypeError(f"`{name}` must be an int token id, got {value!r}.")
    return value


def classification_input(text, start_id, extract_id):
    """`start text extract`."""
    return [_special(start_id, "start_id")] + _ids(text, "text") + [_special(extract_id, "extract_id")]


def entailment_input(premise, hypothesis, start_id, delimiter_id, extract_id):
    """`start premise delim hypothesis extract`."""
    return (
        [_special(start_id, "start_id")]
        + _ids(premise, "premise")
        + [_special(delimiter_id, "delimiter_id")]
        + _ids(hypothesis, "hypothesis")
        + [_special(extract_id, "extract_id")]
    )


def similarity_inputs(text_a, text_b, start_id, delimiter_id, extract_id):
    """Both orderings (similarity has no inherent order); the model processes each and
    adds the two final representations before the output layer (`GPTClassifier`
    with `combine="sum"`)."""
    return [
        entailment_input(text_a, text_b, start_id, delimiter_id, extract_id),
        entailment_input(text_b, text_a, start_id, delimiter_id, extract_id),
    ]


def multiple_choice_inputs(context, answers, start_id, delimiter_id, extract_id):
    """One sequence `start context delim answer_k extract` per candidate; the
    per-candidate scores are normalized with a softmax over the candidates."""
    answers = list(answers)
    if not answers:
        raise ValueError("`answers` must hold at least one candidate.")
    return [entailment_input(context, answer, start_id, delimiter_id, extract_id) for answer in answers]
