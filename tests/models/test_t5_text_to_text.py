"""T5's text-to-text framing: the task is named by a prefix of the input string, the answer is a string."""

import keras
import numpy as np
import pytest

from kerasnlp_lite.models import Seq2SeqLM, Seq2SeqPreprocessor, T5Backbone
from kerasnlp_lite.tokenizers import WordPieceTokenizer
from tests.test_case import check_keras_round_trip

LETTERS = list("abcdefgh")
DIGITS = [str(i) for i in range(1, 9)]
VOCABULARY = ["[PAD]", "</s>", "[UNK]", "copy", "translate", "letters", "to", "digits", ":"]
VOCABULARY += LETTERS + DIGITS
TASKS = {
    "copy:": lambda words: words,
    "translate letters to digits:": lambda words: [DIGITS[LETTERS.index(w)] for w in words],
    "translate digits to letters:": lambda words: [LETTERS[DIGITS.index(w)] for w in words],
}


def _examples(count, seed):
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for i in range(count):
        prefix = list(TASKS)[i % len(TASKS)]
        words = list(rng.choice(DIGITS if "digits to" in prefix else LETTERS, size=int(rng.integers(1, 5))))
        sources.append(f"{prefix} {' '.join(words)}")
        targets.append(" ".join(TASKS[prefix](words)))
    return sources, targets


def _preprocessor():
    tokenizer = WordPieceTokenizer(VOCABULARY, cls_token=None, sep_token=None, mask_token=None)
    return Seq2SeqPreprocessor(tokenizer, end_token_id=1, decoder_start_token_id=0, pad_token_id=0)


def test_preprocessor_packs_text_to_text_examples():
    preprocessor = _preprocessor()
    x, labels = preprocessor.examples(["copy: a b"], ["a b"])
    np.testing.assert_array_equal(x["encoder_token_ids"], [[3, 8, 9, 10, 1]])  # copy : a b </s>
    np.testing.assert_array_equal(labels, [[9, 10, 1]])  # a b </s>
    np.testing.assert_array_equal(x["decoder_token_ids"], [[0, 9, 10]])  # T5 starts decoding with <pad>
    short = Seq2SeqPreprocessor(preprocessor.tokenizer, end_token_id=1, decoder_start_token_id=0,
                                encoder_sequence_length=3)
    with pytest.raises(ValueError, match="longer than the sequence length 3"):
        short.encoder_inputs(["copy: a b"])


@pytest.mark.slow
def test_tiny_t5_learns_three_prefixed_tasks():
    keras.utils.set_random_seed(0)
    preprocessor = _preprocessor()
    backbone = T5Backbone(vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=4, hidden_dim=64,
                          intermediate_dim=128, dropout=0.0, relative_attention_num_buckets=16,
                          relative_attention_max_distance=32)
    lm = Seq2SeqLM(backbone, preprocessor=preprocessor)
    lm.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, labels = preprocessor.examples(*_examples(3000, seed=0))
    lm.fit(x, labels, batch_size=64, epochs=12, verbose=0)
    sources, targets = _examples(60, seed=1)
    outputs = lm.generate(sources, max_length=8)
    exact = np.mean([o == t for o, t in zip(outputs, targets)])
    print(f"text-to-text exact match: {exact:.3f}; e.g. {sources[2]!r} -> {outputs[2]!r}")
    assert exact >= 0.95, list(zip(sources, outputs, targets))[:6]
    # The preprocessor (tokenizer included) travels with the saved model.
    check_keras_round_trip(lm, lambda model: model.generate(sources[:3], max_length=8), outputs[:3], cls=Seq2SeqLM)
