"""A small built-in text-classification task: sentences about four topics, generated from templates.

For demos, tests and the README's fine-tuning quick start: no download, the
same texts for the same seed. Each sentence is built from a template and words
of one topic; the held-out split (`split="test"`) uses templates and topic
words that the training split never shows, so a model has to generalize from
the meaning of the words (which a pretrained encoder knows), not memorize them.
"""

import numpy as np

from kerasnlp_lite.utils.validation import is_int

TOPICS = ("sports", "food", "weather", "computers")

# Per topic: (training words, held-out words).
_WORDS = {
    "sports": (
        ["football match", "tennis player", "goalkeeper", "marathon runner", "basketball team", "the referee",
         "the stadium crowd", "a swimmer", "the coach", "the championship final"],
        ["hockey game", "the striker", "a cyclist", "the olympic sprinter", "the volleyball squad"],
    ),
    "food": (
        ["fresh bread", "the pasta sauce", "a chocolate cake", "the soup", "grilled vegetables", "the chef",
         "a bowl of rice", "the bakery", "spicy curry", "the salad"],
        ["the pizza oven", "a lemon tart", "roasted chicken", "the noodle shop", "a cheese omelette"],
    ),
    "weather": (
        ["heavy rain", "the thunderstorm", "a cold wind", "the snowfall", "morning fog", "the heatwave",
         "dark clouds", "the forecast", "a sunny afternoon", "the hurricane"],
        ["freezing sleet", "the tornado", "a light drizzle", "the monsoon", "icy hail"],
    ),
    "computers": (
        ["the laptop", "a software update", "the keyboard", "the database server", "a computer virus",
         "the operating system", "the graphics card", "a spreadsheet program", "the compiler", "the hard drive"],
        ["the web browser", "a memory chip", "the network router", "the python script", "a password manager"],
    ),
}

_TEMPLATES = (
    [
        "{} was the main story today.",
        "Everyone was talking about {} this week.",
        "I read a long article about {}.",
        "My friend could not stop thinking about {}.",
        "The news report focused on {}.",
        "Yesterday {} surprised all of us.",
    ],
    [
        "There was an interesting discussion about {} on the radio.",
        "Nobody expected {} to matter so much.",
        "Her blog post this morning described {}.",
    ],
)


def topic_classification(num_examples, split="train", seed=0):
    """Sentences and their topic ids (0 sports, 1 food, 2 weather, 3 computers; names in `TOPICS`).

    Args:
        num_examples: how many sentences (classes are balanced in turn).
        split: "train" or "test"; "test" uses templates and topic words that
            "train" never contains.
        seed: int, the draw of words and templates.

    Returns:
        `(texts, labels)`: a list of str and an int32 numpy array.
    """
    if not is_int(num_examples) or num_examples < 1:
        raise ValueError(f"`num_examples` must be an int >= 1, got {num_examples!r}.")
    if split not in ("train", "test"):
        raise ValueError(f'`split` must be "train" or "test", got {split!r}.')
    held_out = split == "test"
    rng = np.random.default_rng([seed, int(held_out)])
    templates = _TEMPLATES[int(held_out)]
    texts, labels = [], []
    for i in range(num_examples):
        label = i % len(TOPICS)
        words = _WORDS[TOPICS[label]][int(held_out)]
        sentence = templates[rng.integers(len(templates))].format(words[rng.integers(len(words))])
        texts.append(sentence[0].upper() + sentence[1:])
        labels.append(label)
    return texts, np.asarray(labels, "int32")
