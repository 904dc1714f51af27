"""The value checks `LiteRunner.run` makes before a signature runs: what the TFLite kernels do not check.

A signature's shapes and dtypes are checked by `LiteRunner` itself; the values
are not checked by LiteRT, and measured on a generation bundle
(tests/export/test_bad_input.py) they fail like this:

- a negative token id is read as id V-1 (Keras' `take` wraps negative indices
  numpy-style, and the converted GATHER keeps the wrap): wrong tokens, no error;
- an id >= V, or a `length` of 0 or > L, stops the kernel with
  "gather index out of bounds" deep inside LiteRT;
- `temperature` <= 0 samples noise (0) or the inverted distribution (< 0);
  a `top_k` above `max_top_k` is clipped, a negative `seed` used as its
  absolute value; a stop id outside the vocabulary never matches;
- WordPiece and SentencePiece kernels turn invalid UTF-8 into unknown tokens.

The graph cannot raise (TFLite has no assert op), so the checks live here, and
export/CONTRACT.md ("What the app checks") lists them for apps that call the
signatures themselves. Each message names the input and the valid range.
"""

import math

import numpy as np

from kerasnlp_lite.export.format import DECODE, DETOKENIZE, GENERATE, PREFILL

_WRAPS = "LiteRT would read a negative id as id V-1, and fail inside the kernel on an id >= V"
_PADDED = "the prompt and its padding: pad with 0; " + _WRAPS
_STOPS = "-1 marks an unused slot; an id outside the vocabulary would never stop generation"

# tf-text kernels that read their text as UTF-8 and map invalid bytes to unknown tokens. The byte-level BPE
# graph (`TFText>ByteSplitWithOffsets`) keeps every byte, so its files take any bytes.
_UTF8_KERNELS = ("FastBertNormalize", "FastWordpieceTokenizeWithOffsets", "TFText>FastSentencepieceTokenize")


def input_limits(signatures, metadata, custom_ops):
    """What the value checks need to know about a file: a dict of `vocabulary_size` (V, decoder side),
    `encoder_vocabulary_size`, `max_length` (L), `max_source_length` (S), `max_top_k`, `utf8_text`.

    Sizes a file does not state (older files, encoders) are None and their checks are skipped.
    """
    prefill = signatures.get(PREFILL, {})
    generate_inputs = signatures.get(GENERATE, {}).get("inputs", {})
    vocabulary_size = metadata.get("vocabulary_size")
    if vocabulary_size is None and prefill:
        vocabulary_size = prefill["outputs"]["logits"]["shape"][-1]
    max_length = metadata.get("max_length")
    if max_length is None and prefill:
        max_length = prefill["inputs"]["token_ids"]["shape"][1]
    source = generate_inputs.get("encoder_token_ids")
    return {
        "vocabulary_size": vocabulary_size,
        "encoder_vocabulary_size": metadata.get("encoder_vocabulary_size"),
        "max_length": max_length,
        "max_source_length": source["shape"][1] if source else None,
        "max_top_k": metadata.get("max_top_k"),
        "utf8_text": any(op in custom_ops for op in _UTF8_KERNELS),
    }


def check_input_values(signature, feed, limits):
    """Raises ValueError naming the input and its valid range when a value of `feed` is out of it.

    Args:
        signature: the signature name.
        feed: input name -> numpy array (shapes and dtypes already checked).
        limits: `input_limits(...)` of the file.
    """
    vocabulary = limits["vocabulary_size"]
    for name, array in feed.items():
        if array.dtype.kind == "S" and limits["utf8_text"]:
            _check_utf8(signature, name, array)
    if signature == PREFILL:
        length = _scalar_in(signature, "length", feed["length"], 1, limits["max_length"])
        _check_ids(signature, "token_ids", feed["token_ids"], vocabulary, _PADDED)
    elif signature == DECODE:
        _check_ids(signature, "token_id", feed["token_id"], vocabulary)
    elif signature == DETOKENIZE:
        _check_ids(signature, "token_ids", feed["token_ids"], vocabulary)
    elif signature == GENERATE:
        if "encoder_token_ids" in feed:  # seq2seq: the decoder start token takes position 0
            length = _scalar_in(signature, "encoder_length", feed["encoder_length"], 1, limits["max_source_length"])
            source = feed["encoder_token_ids"][:, :length]  # the padding is masked to 0 in the graph
            _check_ids(signature, "encoder_token_ids", source, limits["encoder_vocabulary_size"])
            room = limits["max_length"] - 1 if limits["max_length"] else None
        else:
            length = _scalar_in(signature, "length", feed["length"], 1, limits["max_length"])
            _check_ids(signature, "token_ids", feed["token_ids"], vocabulary, _PADDED)
            room = limits["max_length"] - length if limits["max_length"] else None
        if room is not None and room < 1:
            raise ValueError(
                f"Signature {signature!r}: the prompt fills the exported max_length={limits['max_length']}, so no "
                "token can be generated: shorten it or re-export with a larger `max_length`."
            )
        _scalar_in(signature, "max_new_tokens", feed["max_new_tokens"], 1, room, "the room left in max_length")
        _check_sampling(signature, feed, vocabulary, limits["max_top_k"])


def _check_sampling(signature, feed, vocabulary, max_top_k):
    stops = feed["stop_token_ids"].reshape(-1)
    _check_ids(signature, "stop_token_ids", stops[stops != -1], vocabulary, _STOPS)
    top_k = _scalar_in(signature, "top_k", feed["top_k"], 1, max_top_k, "the exported max_top_k")
    temperature = float(feed["temperature"].reshape(-1)[0])
    if top_k > 1 and not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"Input 'temperature' of signature {signature!r} must be a finite number > 0 when top_k > 1, got "
            f"{temperature} (0 would sample noise, a negative value the least likely tokens): use top_k=1 for "
            "greedy decoding."
        )
    _scalar_in(signature, "seed", feed["seed"], 0, None)


def _scalar_in(signature, name, array, low, high, what=None):
    """The one value of `array` as an int, checked to lie in [low, high] (high None: no upper bound)."""
    value = int(np.asarray(array).reshape(-1)[0])
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        because = f" ({what})" if what and high is not None else ""
        raise ValueError(f"Input {name!r} of signature {signature!r} must be {bound}{because}, got {value}.")
    return value


def check_token_ids(ids, vocabulary_size, where, why=_WRAPS):
    """Raises ValueError unless every id is in [0, vocabulary_size) (>= 0 when the size is None).

    Args:
        where: the argument, for the message ("`text_or_ids`", "Input 'token_id' of signature 'decode'").
        why: what goes wrong with other ids, for the message.
    """
    ids = np.asarray(ids)
    if not ids.size:
        return
    bad = ids[(ids < 0) | (ids >= vocabulary_size)] if vocabulary_size is not None else ids[ids < 0]
    if bad.size:
        bound = f"[0, {vocabulary_size})" if vocabulary_size is not None else ">= 0"
        raise ValueError(f"{where} must hold token ids in {bound}, got {sorted(set(bad.tolist()))[:5]} ({why}).")


def _check_ids(signature, name, ids, vocabulary_size, why=_WRAPS):
    check_token_ids(ids, vocabulary_size, f"Input {name!r} of signature {signature!r}", why)


def _check_utf8(signature, name, array):
    for i, value in enumerate(array.reshape(-1).tolist()):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"Input {name!r} of signature {signature!r} must be UTF-8 text; element {i} is not ({error}). "
                "The file's tokenizer would turn the bytes into unknown tokens: decode your text correctly, or "
                "replace the bad bytes (`data.decode('utf-8', 'replace')`)."
            ) from None
