"""from_hf_tokenizer on the tiny checkpoints in tests/data gives the reference libraries' ids.

References: the `sentencepiece` package's SentencePieceProcessor for spiece.model (ALBERT, T5) and
`tokenizers.ByteLevelBPETokenizer(vocab, merges, add_prefix_space=False, trim_offsets=False)` for
vocab.json + merges.txt (GPT-2, BART, RoBERTa), special tokens never added. The tokenizer files are
made by tests/data/make_tiny_tokenizers.py (ALBERT, RoBERTa, T5) and make_hf_{gpt2,bart}_reference.py.

tiny_roberta's 100 tokens hold only an ASCII alphabet: on a text with other bytes the `tokenizers`
package drops them silently, while ByteBPETokenizer (no `unknown_token`) raises; that difference is
checked too.
"""

import json
import os

import pytest
import sentencepiece
import tokenizers

from kerasnlp_lite.checkpoints import from_hf_tokenizer
from kerasnlp_lite.tokenizers import ByteBPETokenizer, SentencePieceTokenizer

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
FAMILIES = ("albert", "roberta", "t5", "gpt2", "bart")
SENTENCEPIECE = ("albert", "t5")

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "the model predicts the next token, again and again",
    "It's 2024: we'll merge 12,345 tokens (maybe 6789 more)!",
    "  Extra   spaces,\ttabs and\nnewlines  \n",
    "SPHINX-like QUIZ; who's \"really\" there? Nobody... 42 owls!",
    "Café, naïve résumé; déjà vu — Ærøskøbing.",
    "Привет, мир! 你好，世界。 こんにちは",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ, the ﬁ ligature, ① and Straße",
    "Price: £10 or €12 – \"quoted\" text.",
    "UPPER lower MiXeD 3.14159; x=[1, 2] <tag> & 50%",
    "[MASK] <pad> </s> [CLS] <extra_id_0> <mask>",
    " ",
    "",
]


def _path(family):
    return os.path.join(DATA, f"tiny_{family}")


def _config(family):
    with open(os.path.join(_path(family), "config.json")) as f:
        return json.load(f)


class _Reference:
    """encode(text) -> ids and decode(ids) -> text with the reference library."""

    def __init__(self, family):
        path = _path(family)
        if family in SENTENCEPIECE:
            processor = sentencepiece.SentencePieceProcessor(model_file=os.path.join(path, "spiece.model"))
            self.encode, self.decode = processor.encode, processor.decode
        else:
            bpe = tokenizers.ByteLevelBPETokenizer(
                os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt"),
                add_prefix_space=False, trim_offsets=False,
            )
            self.encode = lambda text: bpe.encode(text, add_special_tokens=False).ids
            self.decode = lambda ids: bpe.decode(ids, skip_special_tokens=False)


@pytest.fixture(scope="module")
def pairs():
    """family -> (from_hf_tokenizer's tokenizer, the reference), built once."""
    return {family: (from_hf_tokenizer(_path(family)), _Reference(family)) for family in FAMILIES}


def _covered(family, reference, text):
    """False where the reference drops bytes of `text` (only tiny_roberta's small alphabet does)."""
    return family in SENTENCEPIECE or reference.decode(reference.encode(text)) == text


@pytest.mark.parametrize("family", FAMILIES)
def test_tokenizer_class(pairs, family):
    tokenizer, _ = pairs[family]
    assert isinstance(tokenizer, SentencePieceTokenizer if family in SENTENCEPIECE else ByteBPETokenizer)


@pytest.mark.parametrize("family", FAMILIES)
def test_ids_match_reference(pairs, family):
    tokenizer, reference = pairs[family]
    texts = [t for t in TEXTS if _covered(family, reference, t)]
    expected = [reference.encode(t) for t in texts]
    for text, ids in zip(texts, expected):
        assert tokenizer.tokenize(text).numpy().tolist() == ids, repr(text)
    assert tokenizer.tokenize(texts).to_list() == expected  # one ragged batch
    # Every text but tiny_roberta's 6 with bytes outside its alphabet.
    assert len(texts) == (len(TEXTS) - 6 if family == "roberta" else len(TEXTS))


def test_roberta_raises_where_the_reference_drops_bytes(pairs):
    tokenizer, reference = pairs["roberta"]
    dropped = [t for t in TEXTS if not _covered("roberta", reference, t)]
    assert dropped
    for text in dropped:
        with pytest.raises(ValueError, match="not in the vocabulary"):
            tokenizer.tokenize(text)
    # The reference keeps the rest: "Café" -> the ids of "Caf".
    assert reference.encode("Café") == reference.encode("Caf")


@pytest.mark.parametrize("family", FAMILIES)
def test_detokenize_matches_reference(pairs, family):
    tokenizer, reference = pairs[family]
    round_trips = []
    for text in TEXTS:
        if not _covered(family, reference, text):
            continue
        ids = reference.encode(text)
        decoded = reference.decode(ids)
        assert tokenizer.detokenize(ids).numpy().decode("utf-8") == decoded, repr(text)
        if decoded == text:
            round_trips.append(text)
    if family in SENTENCEPIECE:
        # SentencePiece normalizes (NFKC, extra spaces; ALBERT also lowercases) and decodes an
        # unknown piece as " ⁇ ": the plain lowercase sentence still comes back whole.
        assert TEXTS[1] in round_trips
    else:
        # Byte-level BPE loses nothing: every text it covers comes back byte for byte.
        assert round_trips == [t for t in TEXTS if _covered(family, reference, t)]


@pytest.mark.parametrize("family", FAMILIES)
def test_ids_fit_the_checkpoint_embedding(pairs, family):
    tokenizer, reference = pairs[family]
    config = _config(family)
    size = tokenizer.vocabulary_size
    if family == "t5":
        with open(os.path.join(_path(family), "tokenizer_config.json")) as f:
            size += json.load(f)["extra_ids"]  # sentinels HF appends after the pieces
    assert size <= config["vocab_size"]
    ids = [i for t in TEXTS if _covered(family, reference, t) for i in reference.encode(t)]
    assert 0 <= min(ids) and max(ids) < config["vocab_size"]


@pytest.mark.parametrize(
    "family, tokens",
    [
        ("albert", {"<pad>": 0, "<unk>": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}),
        ("roberta", {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 99}),
        ("t5", {"<pad>": 0, "</s>": 1, "<unk>": 2}),
    ],
)
def test_special_token_ids_match_config(pairs, family, tokens):
    tokenizer, _ = pairs[family]
    assert {token: tokenizer.token_to_id(token) for token in tokens} == tokens
    config = _config(family)
    pad = "<pad>"
    assert tokenizer.token_to_id(pad) == config["pad_token_id"]
    if family in SENTENCEPIECE:
        assert tokenizer.pad_token_id == config["pad_token_id"]
        assert tokenizer.unk_token_id == tokens["<unk>"]
    if family in ("roberta", "t5"):
        assert tokenizer.token_to_id("</s>") == config["eos_token_id"]
    if family == "t5":
        assert tokenizer.eos_token_id == config["eos_token_id"]
    # Every special token HF would read from special_tokens_map.json is in the vocabulary.
    with open(os.path.join(_path(family), "special_tokens_map.json")) as f:
        special = json.load(f)
    for role, token in special.items():
        if role != "additional_special_tokens":  # T5's sentinels live after the pieces
            tokenizer.token_to_id(token["content"] if isinstance(token, dict) else token)
