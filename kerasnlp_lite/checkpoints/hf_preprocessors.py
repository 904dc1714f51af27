"""The preprocessor `from_hf` attaches to a task: the checkpoint folder's own tokenizer, its special tokens and
its sequence length, so the task takes strings in `fit`, `evaluate`, `predict` and `generate`.

What is read, and from where:
- the tokenizer: `vocab.txt` (WordPiece; `do_lower_case` from tokenizer_config.json), `vocab.json` +
  `merges.txt` (byte-level BPE) or `spiece.model` (SentencePiece), see `from_hf_tokenizer`;
- special tokens: `special_tokens_map.json` / `tokenizer_config.json`, else the family's usual strings,
  checked against the ids in config.json (`bos_token_id`, `eos_token_id`, `pad_token_id`) where it has them;
- sequence length: sentence-transformers' `max_seq_length` (sentence_bert_config.json), else the tokenizer's
  `model_max_length`, capped by the model's position table.
"""

import os

from kerasnlp_lite.checkpoints.hf_common import read_json_file

# Per family: role -> token string when the folder's files name none.
DEFAULT_TOKENS = {
    "bert": {"cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "mask": "[MASK]"},
    "albert": {"cls": "[CLS]", "sep": "[SEP]", "pad": "<pad>", "mask": "[MASK]"},
    "roberta": {"cls": "<s>", "sep": "</s>", "pad": "<pad>", "mask": "<mask>"},
}
# HF's file keys for each role.
FILE_KEYS = {"cls": "cls_token", "sep": "sep_token", "pad": "pad_token", "mask": "mask_token", "bos": "bos_token",
             "eos": "eos_token", "unk": "unk_token"}


def _read_json(path, name):
    file = os.path.join(path, name)
    if not os.path.isfile(file):
        return {}
    return read_json_file(file)


def _token_string(value):
    # special_tokens_map.json writes either "<s>" or {"content": "<s>", ...}.
    return value.get("content") if isinstance(value, dict) else value


def special_token_strings(path, family):
    """role -> token string: the folder's files first, then the family's defaults."""
    tokens = dict(DEFAULT_TOKENS.get(family, {}))
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        for role, key in FILE_KEYS.items():
            value = _token_string(_read_json(path, name).get(key))
            if isinstance(value, str):
                tokens[role] = value
    return tokens


def special_token_ids(tokenizer, path, family):
    """role -> id of the special tokens the tokenizer's vocabulary has."""
    ids = {}
    for role, token in special_token_strings(path, family).items():
        try:
            ids[role] = tokenizer.token_to_id(token)
        except KeyError:
            continue
    return ids


def sequence_length(path, max_positions, requested=None):
    """The length texts are packed to: the caller's, else sentence-transformers' max_seq_length, else
    model_max_length, capped by the position table."""
    if requested is not None:
        return requested
    candidates = [
        _read_json(path, "sentence_bert_config.json").get("max_seq_length"),
        _read_json(path, "tokenizer_config.json").get("model_max_length"),
    ]
    for value in candidates:
        if isinstance(value, int) and 0 < value:
            return min(value, max_positions) if max_positions else value
    return max_positions


def _require(ids, roles, family, path):
    missing = [role for role in roles if role not in ids]
    if missing:
        from kerasnlp_lite.checkpoints.hf_common import CheckpointError

        raise CheckpointError(
            f"The tokenizer in {path!r} has no {missing} token(s) that a {family} task needs "
            f"(looked for {[special_token_strings(path, family).get(r) for r in missing]})."
        )


def encoder_preprocessor(tokenizer, path, family, task, max_positions, requested=None):
    """TextPreprocessor (embedder, classifier) or MaskedLMPreprocessor (masked_lm, pretraining) of BERT,
    ALBERT or RoBERTa: `[CLS] A [SEP] B [SEP]` (RoBERTa `<s> A </s></s> B </s>`, no segment ids)."""
    from kerasnlp_lite import models
    from kerasnlp_lite.tokenizers import SegmentPacker

    ids = special_token_ids(tokenizer, path, family)
    _require(ids, ("cls", "sep", "pad"), family, path)
    length = sequence_length(path, max_positions, requested)
    roberta = family == "roberta"
    sep = [ids["sep"], ids["sep"]] if roberta else ids["sep"]
    segment_ids = not roberta
    if task in ("masked_lm", "pretraining"):
        _require(ids, ("mask",), family, path)
        return models.MaskedLMPreprocessor(
            tokenizer, length, mask_token_id=ids["mask"], start_token_id=ids["cls"], end_token_id=ids["sep"],
            sep_token_id=sep, pad_token_id=ids["pad"], segment_ids=segment_ids,
        )
    packer = SegmentPacker(length, start_value=ids["cls"], end_value=ids["sep"], sep_value=sep, pad_value=ids["pad"])
    return models.TextPreprocessor(tokenizer, packer, segment_ids=segment_ids)


def causal_lm_preprocessor(tokenizer, path, config, max_positions, requested=None):
    """GPT-2: texts end with `<|endoftext|>` (eos) in training; prompts get no start token, as in HF."""
    from kerasnlp_lite import models

    eos = config.get("eos_token_id")
    pad = config.get("pad_token_id")
    return models.CausalLMPreprocessor(
        tokenizer,
        sequence_length(path, max_positions, requested),
        end_token_id=eos,
        pad_token_id=pad if pad is not None else (eos if eos is not None else 0),
    )


def seq2seq_preprocessor(tokenizer, model, config, family):
    """BART wraps sources in `<s> ... </s>`; T5 appends `</s>` only."""
    from kerasnlp_lite import models

    encoder_start = config.get("bos_token_id", 0) if family == "bart" else None
    return models.Seq2SeqPreprocessor(
        tokenizer,
        end_token_id=model.end_token_id,
        decoder_start_token_id=model.decoder_start_token_id,
        pad_token_id=model.pad_token_id,
        encoder_start_token_id=encoder_start,
    )
