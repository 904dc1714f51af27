"""In-context learning prompts: zero-, one- and few-shot, as GPT-3 defines them.

Brown et al. 2020 (https://arxiv.org/abs/2005.14165, section 2, figure 2.1):
the model gets a natural-language task description, then K demonstrations of
the task (K = 0 zero-shot, 1 one-shot, a few few-shot), then the query, and
completes it with no gradient update.
"""

from kerasnlp_lite.utils.validation import is_int


def few_shot_prompt(
    task_description,
    examples,
    query,
    num_shots=None,
    input_prefix="",
    output_prefix=" => ",
    separator="\n",
):
    """Builds a GPT-3 style prompt.

    Args:
        task_description: the instruction, e.g. "Translate English to French:";
            may be "" (GPT-3's few-shot setting also works without one).
        examples: a sequence of (input, output) string pairs, the demonstrations.
        query: the input to complete.
        num_shots: how many demonstrations to use, from the start of
            `examples`; None uses all of them; 0 gives a zero-shot prompt.
        input_prefix: written before each input.
        output_prefix: between an input and its output (GPT-3's figures use
            " => "); the prompt ends with it, so the model writes the output.
        separator: between the description and each demonstration.

    Returns:
        The prompt string.

    Example:
    >>> few_shot_prompt("Translate English to French:", [("sea otter", "loutre de mer")], "cheese")
    'Translate English to French:\\nsea otter => loutre de mer\\ncheese => '
    """
    if not isinstance(task_description, str):
        raise TypeError(f"`task_description` must be a string, got {type(task_description).__name__}.")
    if not isinstance(query, str):
        raise TypeError(f"`query` must be a string, got {type(query).__name__}.")
    examples = list(examples)
    for i, example in enumerate(examples):
        if not (isinstance(example, (tuple, list)) and len(example) == 2 and all(isinstance(x, str) for x in example)):
            raise TypeError(f"`examples[{i}]` must be an (input, output) pair of strings, got {example!r}.")
    if num_shots is None:
        num_shots = len(examples)
    if not is_int(num_shots) or num_shots < 0:
        raise ValueError(f"`num_shots` must be an integer >= 0, got {num_shots!r}.")
    if num_shots > len(examples):
        raise ValueError(f"`num_shots`={num_shots} but only {len(examples)} examples were given.")
    parts = [task_description] if task_description else []
    parts += [f"{input_prefix}{x}{output_prefix}{y}" for x, y in examples[:num_shots]]
    parts.append(f"{input_prefix}{query}{output_prefix}")
    return separator.join(parts)
