"""Load Hugging Face format checkpoint directories: `config.json` + `model.safetensors`.

Weights come only from safetensors (never from pickled `pytorch_model.bin`).
Tensors are mapped by name, every shape is checked, and a missing or
unexpected tensor is an error naming it. One module per architecture family
(`hf_bert`, `hf_albert`, `hf_roberta`, `hf_gpt2`, `hf_bart`, `hf_t5`) holds
its name map and the tasks it can build; `hf_common` the shared reading and
layout conversions.
"""

import os
import warnings

from kerasnlp_lite.checkpoints import hf_albert, hf_bart, hf_bert, hf_gpt2, hf_preprocessors, hf_roberta, hf_t5
from kerasnlp_lite.checkpoints.hf_common import CheckpointError, Weights, read_config, read_json_file, read_weights
from kerasnlp_lite.utils.validation import is_int

__all__ = ["CheckpointError", "from_hf", "from_hf_tokenizer"]

TASKS = (None, "masked_lm", "pretraining", "classifier", "embedder", "causal_lm", "seq2seq_lm")
# What an encoder family module builds when it names no TASKS of its own.
ENCODER_TASKS = (None, "masked_lm", "pretraining", "classifier", "embedder")

# HF `model_type` -> the module with PREFIXES, IGNORE, load(config, weights, task, num_classes)
# and optionally TASKS (default ENCODER_TASKS).
FAMILIES = {
    "bert": hf_bert, "albert": hf_albert, "roberta": hf_roberta, "gpt2": hf_gpt2, "bart": hf_bart, "t5": hf_t5,
}


def from_hf(path, task=None, num_classes=None, sequence_length=None):
    """Builds a backbone or task model from a local Hugging Face format directory.

    Supported `model_type`s: "bert" (BertBackbone), "albert" (AlbertBackbone),
    "roberta" (RobertaBackbone), "gpt2" (GPTBackbone with pre-LN blocks and
    a final LayerNorm), "bart" (BartBackbone), "t5" (T5Backbone; T5 v1.0
    only: plain ReLU feed-forward, tied and rescaled output layer).

    Args:
        path: folder with `config.json` and `model.safetensors`.
        task: None (the backbone); for the encoders "masked_lm",
            "pretraining" (BERT: MLM + NSP; ALBERT: MLM + sentence order;
            RoBERTa: MLM alone), "classifier" or "embedder" (mean pooling +
            L2 norm, as sentence-transformers); for GPT-2 "causal_lm"; for
            BART and T5 "seq2seq_lm" (Seq2SeqLM with the config's decoder
            start, eos and pad ids). Every task gets the folder's own
            tokenizer as its `preprocessor` (`hf_preprocessors`: special
            tokens, lower-casing and sequence length from the folder's files),
            so `fit`, `evaluate`, `predict` and `generate` take strings. A
            folder without tokenizer files gives a task on token ids (with
            one warning saying so).
        num_classes: for "classifier" when the config has no labels.
        sequence_length: the length the preprocessor packs texts to (encoders
            and GPT-2); default from the folder's files (see
            `hf_preprocessors.sequence_length`). Must fit the position table.

    Returns:
        The Keras model, its weights loaded and checked.

    Example:
    >>> lm = from_hf("gpt2_folder", task="causal_lm")
    >>> lm.generate("The meaning of life is", max_length=24)
    """
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}, got {task!r}.")
    if sequence_length is not None and task in (None, "seq2seq_lm"):
        raise ValueError("`sequence_length` applies to encoder and causal-LM tasks (their packed length).")
    config = read_config(path)
    model_type = config.get("model_type")
    family = FAMILIES.get(model_type)
    if family is None:
        raise CheckpointError(
            f"Unknown or unsupported architecture model_type={model_type!r} "
            f"(architectures={config.get('architectures')}); supported: {sorted(FAMILIES)}."
        )
    family_tasks = getattr(family, "TASKS", ENCODER_TASKS)
    if task not in family_tasks:
        raise ValueError(f"model_type={model_type!r} supports tasks {family_tasks}, got task={task!r}.")
    weights = Weights(read_weights(path), prefixes=family.PREFIXES)
    model = family.load(config, weights, task, num_classes)
    # Heads the task does not use (an MLM head when loading a backbone) are
    # fine; tensors that nothing could use are reported.
    weights.check_all_used(ignore=family.IGNORE)
    if task is not None:
        # Set after the build: the preprocessor is no layer of the functional graph.
        model.preprocessor = _preprocessor(path, config, model_type, task, model, sequence_length)
    return model


def _preprocessor(path, config, model_type, task, model, length):
    """The task's preprocessor from the folder's tokenizer files; None (said once) when it has none."""
    try:
        tokenizer = from_hf_tokenizer(path)
    except FileNotFoundError:
        warnings.warn(
            f"{path!r} has no tokenizer files (vocab.txt, vocab.json + merges.txt or spiece.model): the "
            f"{type(model).__name__} works on token ids only; attach a preprocessor to give it strings.",
            stacklevel=3,
        )
        return None
    max_positions = getattr(model.backbone, "max_sequence_length", None)
    if length is not None:
        if not is_int(length) or length < 2:
            raise ValueError(f"`sequence_length` must be an int >= 2, got {length!r}.")
        if max_positions and length > max_positions:
            raise ValueError(f"`sequence_length`={length} exceeds the model's max_sequence_length={max_positions}.")
    if model_type in ("bert", "albert", "roberta"):
        return hf_preprocessors.encoder_preprocessor(tokenizer, path, model_type, task, max_positions, length)
    if model_type == "gpt2":
        return hf_preprocessors.causal_lm_preprocessor(tokenizer, path, config, max_positions, length)
    return hf_preprocessors.seq2seq_preprocessor(tokenizer, model, config, model_type)


def _has_byte_bpe_files(path):
    return all(os.path.isfile(os.path.join(path, name)) for name in ("vocab.json", "merges.txt"))


def _byte_bpe_tokenizer(path):
    from kerasnlp_lite import tokenizers

    read_json_file(os.path.join(path, "vocab.json"))  # a CheckpointError naming the file if it is not JSON
    return tokenizers.ByteBPETokenizer(os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt"))


def from_hf_tokenizer(path):
    """The tokenizer of a Hugging Face format directory: vocab.txt (WordPiece),
    vocab.json + merges.txt (byte-level BPE) or spiece.model/sentencepiece.bpe.model (SentencePiece)."""
    from kerasnlp_lite import tokenizers

    def exists(name):
        return os.path.isfile(os.path.join(path, name))

    tokenizer_config = {}
    if exists("tokenizer_config.json"):
        tokenizer_config = read_json_file(os.path.join(path, "tokenizer_config.json"))
    if exists("vocab.txt"):
        return tokenizers.WordPieceTokenizer(
            os.path.join(path, "vocab.txt"), lowercase=tokenizer_config.get("do_lower_case", True)
        )
    if _has_byte_bpe_files(path):
        return _byte_bpe_tokenizer(path)
    for name in ("spiece.model", "sentencepiece.bpe.model", "tokenizer.model"):
        if exists(name):
            return tokenizers.SentencePieceTokenizer(os.path.join(path, name))
    raise FileNotFoundError(
        f"No tokenizer files in {path!r}: expected vocab.txt, vocab.json + merges.txt, or spiece.model."
    )
