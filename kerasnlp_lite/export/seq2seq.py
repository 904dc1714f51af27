"""On-device sequence-to-sequence generation: a `Seq2SeqLM` as one TFLite file.

Signatures (batch size 1; S = the exported `max_source_length`, L = the
exported decoder `max_length`, start token included):

- `generate`: `encoder_token_ids` int32 `[1, S]` (right-padded source),
  `encoder_length` int32 `[1]`, `max_new_tokens` `[1]`, `stop_token_ids`
  int32 `[1, K]` (-1 = unused slot), `top_k` `[1]` (1 = greedy argmax, else
  top-k sampling among the `top_k` best, at most `max_top_k`), `temperature`
  float32 `[1]`, `seed` int32 `[1]` -> `token_ids` int32 `[1, L]` (the
  decoder start token, the generated tokens, then 0) and `length` `[1]`
  (start token + generated tokens; a stop token is kept and ends the loop).
  The encoder runs once; the cross-attention keys/values of every decoder
  layer are computed once from its output; the decoder then runs one token
  per step of a builtin `WHILE` over per-layer self-attention K/V caches
  `[1, N, L, H]` (rank 4: strided slices above rank 5 need Flex).
- `tokenize` / `detokenize` (with a tokenizer): as `export_causal_lm`'s.

Sampling uses the same Wichmann-Hill generator as `export_causal_lm`
(bundle_signatures.py). Conversion runs in a child process (the converter
leaks memory, `_generation_worker`), from a SavedModel written by
`keras.export.ExportArchive`.
"""

import os

import numpy as np

from kerasnlp_lite.export.bundle_signatures import (
    add_text_endpoints,
    bundle_tokenizer,
    sampling_input_specs,
    sampling_while_loop,
)
from kerasnlp_lite.export.format import GENERATE, SEQ2SEQ_LM_FORMAT, bundle_metadata, check_quantization
from kerasnlp_lite.export.tflite import convert_bundle_in_child
from kerasnlp_lite.export.verify import check_and_write_bundle
from kerasnlp_lite.layers.attention import single_query_reductions
from kerasnlp_lite.utils.validation import is_int


def build_seq2seq_archive(model, max_length, max_source_length, tokenizer=None, max_top_k=40, max_stop_tokens=4):
    """A `keras.export.ExportArchive` with the endpoints of the module docstring; (archive, signature names)."""
    import keras
    import tensorflow as tf

    backbone = model.backbone
    length_cap, source_cap = int(max_length), int(max_source_length)
    num_layers = len(backbone.decoder_blocks)
    max_top_k = min(int(max_top_k), backbone.decoder_vocabulary_size)
    start_id = int(model.decoder_start_token_id)

    archive = keras.export.ExportArchive()
    archive.track(model)  # the model's variables become the SavedModel's
    int_spec = lambda shape, name: tf.TensorSpec(shape, tf.int32, name=name)  # noqa: E731

    def generate(inputs):
        source, source_length = inputs["encoder_token_ids"], inputs["encoder_length"]
        encoder_mask = tf.cast(tf.expand_dims(tf.range(source_cap), 0) < source_length[0], tf.int32)  # [1, S]
        encoder_output = backbone.encode(source * encoder_mask, encoder_mask)
        cache = backbone.init_cache(encoder_output, encoder_mask, length_cap)
        cross, mask = cache["cross"], cache["encoder_padding_mask"]

        def step(token, flat, index):  # token [1] at position `index` -> logits [1, V]
            state = {"self": [(flat[2 * j], flat[2 * j + 1]) for j in range(num_layers)], "cross": cross,
                     "encoder_padding_mask": mask}
            with single_query_reductions():  # attention of one position as MUL + SUM (layers/attention.py)
                hidden, state = backbone.call_with_cache(tf.reshape(token, [1, 1]), state, index)
            return model.compute_logits(hidden[:, 0]), tuple(t for pair in state["self"] for t in pair)

        flat = tuple(t for pair in cache["self"] for t in pair)
        start = tf.constant([start_id], tf.int32)
        logits, flat = step(start, flat, tf.constant(0))
        buffer = tf.pad(tf.reshape(start, [1, 1]), [[0, 0], [0, length_cap - 1]])  # [1, L]
        end = tf.minimum(1 + tf.maximum(inputs["max_new_tokens"][0], 0), length_cap)
        position, buffer = sampling_while_loop(step, tf.constant(1), end, buffer, logits, flat, inputs, max_top_k)
        return {"token_ids": buffer, "length": tf.reshape(position, [1])}

    spec = {
        "encoder_token_ids": int_spec((1, source_cap), "encoder_token_ids"),
        "encoder_length": int_spec((1,), "encoder_length"),
        **sampling_input_specs(max_stop_tokens),
    }
    archive.add_endpoint(GENERATE, generate, input_signature=[spec])
    signatures = [GENERATE]
    signatures += add_text_endpoints(archive, tokenizer)
    return archive, signatures


def _check_args(model, max_length, max_source_length, quantize, max_top_k, max_stop_tokens):
    backbone = getattr(model, "backbone", None)
    if backbone is None or not hasattr(backbone, "init_cache") or not hasattr(model, "decoder_start_token_id"):
        raise TypeError(f"`model` must be a Seq2SeqLM, got {type(model).__name__}.")
    for name, value, low in (("max_length", max_length, 2), ("max_source_length", max_source_length, 1),
                             ("max_top_k", max_top_k, 1), ("max_stop_tokens", max_stop_tokens, 1)):
        if not is_int(value) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}, got {value!r}.")
    limit = backbone.max_sequence_length
    if limit is not None and max(max_length, max_source_length) > limit:
        raise ValueError(
            f"`max_length`={max_length} / `max_source_length`={max_source_length} exceed the backbone's "
            f"max_sequence_length={limit}."
        )
    check_quantization(quantize, calibrated=False)


def export_seq2seq_lm(
    model,
    path,
    max_length,
    max_source_length,
    tokenizer=None,
    quantize=None,
    max_top_k=40,
    max_stop_tokens=4,
    timeout=900,
):
    """Writes a `Seq2SeqLM` as one `.tflite` file for on-device generation (batch size 1).

    Args:
        model: a `Seq2SeqLM`.
        path: the `.tflite` file to write.
        max_length: L, decoder tokens per output (start token included).
        max_source_length: S, the longest source the file takes.
        tokenizer: a WordPiece, SentencePiece or byte-level BPE tokenizer for
            `tokenize` / `detokenize` (text_graph.py); defaults to the
            preprocessor's tokenizer, if any; False for none.
        quantize: None, "float16" or "dynamic_int8" (`format.UNCALIBRATED_QUANTIZATION_MODES`).
        max_top_k: the largest `top_k` of the `generate` signature.
        max_stop_tokens: K, slots of `stop_token_ids`.
        timeout: seconds for the conversion child process.

    Returns:
        A `TFLiteExportReport` (verify.py): `path`, `size_bytes`, `quantize`,
        `ops`, `custom_ops`, `signatures` (`LiteRunner.signatures`), `metadata`.

    Raises:
        FlexOpError: when some op is neither a builtin nor a tf-text op.
        ValueError: bad arguments, or a tokenizer that cannot go to TFLite.
    """
    _check_args(model, max_length, max_source_length, quantize, max_top_k, max_stop_tokens)
    tokenizer = bundle_tokenizer(model, tokenizer)
    path = os.fspath(path)
    metadata = bundle_metadata(
        SEQ2SEQ_LM_FORMAT, max_length, model.backbone.decoder_vocabulary_size, max_top_k, max_stop_tokens, quantize,
        max_source_length=int(max_source_length),
        # The id ranges `LiteRunner` checks (a negative id would be read as id V-1 on device).
        vocabulary_size=int(model.backbone.decoder_vocabulary_size),
        encoder_vocabulary_size=int(model.backbone.vocabulary_size),
        decoder_start_token_id=int(model.decoder_start_token_id),
        end_token_id=int(model.end_token_id),
        encoder_start_token_id=getattr(model.preprocessor, "encoder_start_token_id", None),
    )
    content = convert_bundle_in_child(
        model, tokenizer, timeout, "Seq2SeqLM",
        kind="seq2seq", max_length=int(max_length), max_source_length=int(max_source_length), quantize=quantize,
        max_top_k=int(max_top_k), max_stop_tokens=int(max_stop_tokens),
    )
    return check_and_write_bundle(content, metadata, path)[1]


def run_seq2seq_generate(runner, source_ids, max_new_tokens, stop_token_ids=(), top_k=1, temperature=1.0, seed=0):
    """Runs the file's `generate` signature on one source (id list); returns the decoder ids (start token first).

    Args:
        runner: a `LiteRunner` on the exported file.
        source_ids: the encoder token ids (at most `max_source_length`).
        max_new_tokens: tokens to generate at most.
        stop_token_ids: up to `max_stop_tokens` ids that end the loop.
    """
    signatures = runner.signatures
    if GENERATE not in signatures or "encoder_token_ids" not in signatures[GENERATE]["inputs"]:
        # A causal LM bundle also has `generate`, but without an encoder input.
        raise ValueError(
            "`runner` must hold a seq2seq bundle (`export_seq2seq_lm`: a `generate` signature with "
            f"`encoder_token_ids`); its file has signatures {sorted(signatures)}"
            + (f" and `generate` takes {sorted(signatures[GENERATE]['inputs'])} (a causal LM bundle?)"
               if GENERATE in signatures else "") + "."
        )
    spec = signatures[GENERATE]["inputs"]
    source_cap = spec["encoder_token_ids"]["shape"][1]
    slots = spec["stop_token_ids"]["shape"][1]
    source = list(source_ids)
    if not 1 <= len(source) <= source_cap:
        raise ValueError(f"`source_ids` must hold 1 to {source_cap} ids (the exported max_source_length), got {len(source)}.")
    stops = list(stop_token_ids)
    if len(stops) > slots:
        raise ValueError(f"At most {slots} `stop_token_ids` (the exported max_stop_tokens), got {len(stops)}.")
    outputs = runner.run(
        GENERATE,
        encoder_token_ids=np.array([source + [0] * (source_cap - len(source))], np.int32),
        encoder_length=np.array([len(source)], np.int32),
        max_new_tokens=np.array([max_new_tokens], np.int32),
        stop_token_ids=np.array([stops + [-1] * (slots - len(stops))], np.int32),
        top_k=np.array([top_k], np.int32),
        temperature=np.array([temperature], np.float32),
        seed=np.array([seed], np.int32),
    )
    return outputs["token_ids"][0, : int(outputs["length"][0])]
