import pytest

from kerasnlp_lite.data.gpt_inputs import (
    classification_input,
    entailment_input,
    multiple_choice_inputs,
    similarity_inputs,
)
from kerasnlp_lite.generation.prompts import few_shot_prompt

EXAMPLES = [("sea otter", "loutre de mer"), ("peppermint", "menthe poivrée"), ("plush girafe", "girafe peluche")]


def test_zero_one_few_shot_as_gpt3_figure():
    description = "Translate English to French:"
    assert few_shot_prompt(description, EXAMPLES, "cheese", num_shots=0) == "Translate English to French:\ncheese => "
    assert few_shot_prompt(description, EXAMPLES, "cheese", num_shots=1) == (
        "Translate English to French:\nsea otter => loutre de mer\ncheese => "
    )
    few = few_shot_prompt(description, EXAMPLES, "cheese")
    assert few.count(" => ") == 4 and few.endswith("cheese => ")
    assert few_shot_prompt("", EXAMPLES[:1], "cheese", output_prefix=": ", separator=" | ") == (
        "sea otter: loutre de mer | cheese: "
    )


def test_prompt_bad_inputs():
    with pytest.raises(ValueError, match="`num_shots`=4 but only 3"):
        few_shot_prompt("x", EXAMPLES, "q", num_shots=4)
    with pytest.raises(ValueError, match="`num_shots` must be an integer >= 0"):
        few_shot_prompt("x", EXAMPLES, "q", num_shots=-1)
    with pytest.raises(TypeError, match=r"`examples\[0\]` must be an \(input, output\) pair"):
        few_shot_prompt("x", ["just one string"], "q")
    with pytest.raises(TypeError, match="`query` must be a string"):
        few_shot_prompt("x", EXAMPLES, 3)


def test_gpt1_input_transformations():
    start, delim, extract = 100, 101, 102
    assert classification_input([5, 6], start, extract) == [100, 5, 6, 102]
    assert entailment_input([1, 2], [3], start, delim, extract) == [100, 1, 2, 101, 3, 102]
    assert similarity_inputs([1], [2, 3], start, delim, extract) == [[100, 1, 101, 2, 3, 102], [100, 2, 3, 101, 1, 102]]
    assert multiple_choice_inputs([7, 8], [[1], [2, 2]], start, delim, extract) == [
        [100, 7, 8, 101, 1, 102],
        [100, 7, 8, 101, 2, 2, 102],
    ]
    with pytest.raises(TypeError, match="`text` must be a sequence of int token ids"):
        classification_input([1.5], start, extract)
    with pytest.raises(ValueError, match="`answers` must hold at least one candidate"):
        multiple_choice_inputs([1], [], start, delim, extract)
