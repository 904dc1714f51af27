"""Makes the tokenizer files of the tiny ALBERT, RoBERTa and T5 checkpoints in this folder.

Writes, beside this script (config.json and model.safetensors are left alone):
    tiny_albert/spiece.model    SentencePiece unigram, 100 pieces, lowercasing itself
                                (normalization "nmt_nfkc_cf"); ALBERT's layout: <pad>=0, <unk>=1,
                                [CLS]=2, [SEP]=3, [MASK]=4 (control symbols), then the user-defined
                                symbols ( ) " - . – £ € at 5-12, as google-research/albert's spm_train
                                command makes them
    tiny_roberta/vocab.json, tiny_roberta/merges.txt
                                byte-level BPE, 100 tokens: <s>=0, <pad>=1, </s>=2, <unk>=3, the
                                corpus's byte alphabet, the merges, and <mask> last (=99), as in
                                roberta-base
    tiny_t5/spiece.model        SentencePiece unigram, 108 pieces: <pad>=0, </s>=1, <unk>=2 (T5's
                                default nmt_nfkc normalization, case kept); HF appends 20 sentinels
                                <extra_id_19>..<extra_id_0> at 108-127 (tokenizer_config.json's
                                "extra_ids"), filling the 128-row embedding
    each folder: tokenizer_config.json and special_tokens_map.json, as HF writes them

All three are trained on TEXT below, with the reference libraries (the `sentencepiece` trainer and
the `tokenizers` BPE trainer), in one thread and in a fixed order: the output is the same bytes on
every run. No network, no torch or transformers. Run from the repository root:
    .venv/bin/python tests/data/make_tiny_tokenizers.py

The byte-level alphabet of tiny_roberta holds only the characters of TEXT (100 tokens cannot hold
256 bytes): other bytes (accents, non-Latin text) are unknown. The `tokenizers` package drops them
silently; kerasnlp_lite's ByteBPETokenizer raises instead (it has no `unknown_token` by default).
"""

import io
import json
import os
import tempfile

import sentencepiece
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
VOCABULARY_SIZE = {"tiny_albert": 100, "tiny_roberta": 100, "tiny_t5": 128}  # each config.json's vocab_size
T5_EXTRA_IDS = 20  # sentinels HF appends after the SentencePiece pieces

# Training text (fixed): every piece and merge comes from here. ASCII letters, digits and the
# punctuation of ALBERT's user-defined symbols; the tiny RoBERTa alphabet is exactly its characters.
TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "A language model predicts the next token from the tokens before it.",
    "Layer normalization was moved to the input of each sub-block.",
    "It's a small model, trained on nothing, and it talks nonsense; that's fine.",
    "Numbers like 12, 345 and 2024 are split into digits (and merged again).",
    "We'll see whether the tokenizer splits words the same way as the reference does.",
    "Attention is all you need, they said, and then they added layer norms.",
    "Byte pair encoding merges the most frequent pair of symbols, again and again.",
    "\"Masked language models\" predict the hidden words of a sentence.",
    "The price was 10 pounds (about 12 euros) - or so they say.",
    "Sentence order prediction: is the second sentence before or after the first?",
    "Text to text: translate, summarize, answer questions and classify, all as text.",
    "Unigram models keep the pieces that make the text most likely.",
    "Span corruption replaces spans of tokens with sentinels, 15 percent of them.",
    "Jack and Kim quizzed six very happy young women about 67 zebras and 890 owls.",
    "Is it 3:45 or 4:30? Nobody knows; everyone guesses!",
    "Tabs\tand newlines\nare whitespace too.",
    "SPHINX OF BLACK QUARTZ, JUDGE MY VOW.",  # every capital letter, so that RoBERTa's alphabet has them
] * 4


def _train_sentencepiece(pieces, **options):
    """A unigram model of `pieces` pieces trained on TEXT: its serialized proto."""
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXT),
        model_writer=model,
        vocab_size=pieces,
        model_type="unigram",
        character_coverage=1.0,
        # Determinism: one thread, every sentence, in the given order.
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=2,
        **options,
    )
    return model.getvalue()


def _write_json(directory, name, value):
    with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def _added_token(content, lstrip=False):
    return {"content": content, "lstrip": lstrip, "normalized": False, "rstrip": False, "single_word": False,
            "special": True}


def albert():
    target = os.path.join(HERE, "tiny_albert")
    proto = _train_sentencepiece(
        VOCABULARY_SIZE["tiny_albert"],
        pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        user_defined_symbols=["(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac"],
        # HF's AlbertTokenizer lowercases (do_lower_case=True); case folding in the model's own
        # normalizer makes SentencePiece alone give those ids.
        normalization_rule_name="nmt_nfkc_cf",
    )
    with open(os.path.join(target, "spiece.model"), "wb") as f:
        f.write(proto)
    special = {
        "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "<unk>", "sep_token": "[SEP]",
        "pad_token": "<pad>", "cls_token": "[CLS]", "mask_token": "[MASK]",
    }
    _write_json(target, "special_tokens_map.json", special)
    # keep_accents=True: HF would otherwise strip accents (NFKD) before SentencePiece, which this
    # model does not do itself; lowercasing is already in the model.
    _write_json(target, "tokenizer_config.json", {
        "tokenizer_class": "AlbertTokenizer", "do_lower_case": True, "remove_space": True,
        "keep_accents": True, "model_max_length": 64, **special,
    })
    return target, proto


def t5():
    target = os.path.join(HERE, "tiny_t5")
    proto = _train_sentencepiece(VOCABULARY_SIZE["tiny_t5"] - T5_EXTRA_IDS, pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    with open(os.path.join(target, "spiece.model"), "wb") as f:
        f.write(proto)
    sentinels = [f"<extra_id_{i}>" for i in range(T5_EXTRA_IDS)]
    special = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
               "additional_special_tokens": sentinels}
    _write_json(target, "special_tokens_map.json", special)
    _write_json(target, "tokenizer_config.json", {
        "tokenizer_class": "T5Tokenizer", "extra_ids": T5_EXTRA_IDS, "model_max_length": 64, **special,
    })
    return target, proto


def roberta():
    target = os.path.join(HERE, "tiny_roberta")
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    # ByteLevelBPETokenizer.train would start from all 256 bytes; a 100-token vocabulary starts
    # from the bytes of TEXT instead (the same pipeline otherwise: ByteLevel pre-tokenizer + BPE).
    bpe = tokenizers.Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCABULARY_SIZE["tiny_roberta"] - 1, min_frequency=2, special_tokens=specials,
        show_progress=False,
    )
    bpe.train_from_iterator(TEXT, trainer=trainer)
    with tempfile.TemporaryDirectory() as scratch:
        vocab_path, merges_path = bpe.model.save(scratch)
        with open(vocab_path, encoding="utf-8") as f:
            vocab = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            merges = f.read()
    vocab["<mask>"] = len(vocab)  # last, as roberta-base's 50264
    with open(os.path.join(target, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(dict(sorted(vocab.items(), key=lambda item: item[1])), f, ensure_ascii=False)
    with open(os.path.join(target, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(merges)
    special = {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "pad_token": "<pad>", "cls_token": "<s>", "mask_token": _added_token("<mask>", lstrip=True),
    }
    _write_json(target, "special_tokens_map.json", special)
    _write_json(target, "tokenizer_config.json", {
        "tokenizer_class": "RobertaTokenizer", "add_prefix_space": False, "errors": "replace",
        "trim_offsets": True, "model_max_length": 64, **special,
    })
    return target, vocab


def _check_sentencepiece(name, proto, pieces, expected):
    """The model has `pieces` pieces and its special pieces sit at `expected` (piece -> id)."""
    processor = sentencepiece.SentencePieceProcessor(model_proto=proto)
    assert processor.get_piece_size() == pieces, processor.get_piece_size()
    got = {piece: processor.piece_to_id(piece) for piece in expected}
    assert got == expected, (name, got)
    print(f"{name}: {processor.get_piece_size()} pieces, {got}")


def main():
    _, proto = albert()
    _check_sentencepiece("tiny_albert", proto, VOCABULARY_SIZE["tiny_albert"], {
        "<pad>": 0, "<unk>": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "(": 5, ")": 6, '"': 7, "-": 8, ".": 9,
        "\u2013": 10, "\u00a3": 11, "\u20ac": 12,
    })
    _, proto = t5()
    pieces = VOCABULARY_SIZE["tiny_t5"] - T5_EXTRA_IDS
    _check_sentencepiece("tiny_t5", proto, pieces, {"<pad>": 0, "</s>": 1, "<unk>": 2})
    _, vocab = roberta()
    assert len(vocab) == VOCABULARY_SIZE["tiny_roberta"], len(vocab)
    special = {t: vocab[t] for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")}
    print(f"tiny_roberta: {len(vocab)} tokens, {special}")
    for name in ("tiny_albert", "tiny_roberta", "tiny_t5"):
        with open(os.path.join(HERE, name, "config.json")) as f:
            assert json.load(f)["vocab_size"] == VOCABULARY_SIZE[name], name
        for f in sorted(os.listdir(os.path.join(HERE, name))):
            path = os.path.join(HERE, name, f)
            print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
