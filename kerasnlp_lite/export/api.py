"""`export_saved_model` and `export_tflite`: a model (and its tokenizer) to files a phone can run.

The signatures are the on-device contract (export/CONTRACT.md): encoders,
classifiers and embedders get `serving_default` and, with a preprocessor,
`classify` / `embed` (encoder_archive.py); `export_tflite` hands a `CausalLM`
to `export_causal_lm` (lm_bundle.py) and a `Seq2SeqLM` to `export_seq2seq_lm`
(seq2seq.py).

The route keeps the weights (shared NOTES): `keras.export.ExportArchive` in
this process, then `TFLiteConverter.from_saved_model` in a child process
(the converter leaks memory; tflite.py), then the file is checked here: its
ops listed, Flex refused, every signature run with `ai_edge_litert` and
compared with Keras on sample inputs (verify.py). Every export returns a
`TFLiteExportReport`.
"""

import os
import tempfile

from kerasnlp_lite.export.encoder_archive import (
    build_encoder_archive,
    check_model,
    check_signatures,
    default_sequence_length,
    packer_length,
    text_signature,
)
from kerasnlp_lite.export.format import check_quantization
from kerasnlp_lite.export.lm_bundle import export_causal_lm
from kerasnlp_lite.export.samples import DEFAULT_SAMPLE_TEXTS, representative_samples, sample_id_inputs
from kerasnlp_lite.export.seq2seq import export_seq2seq_lm
from kerasnlp_lite.export.tflite import convert_saved_model_in_child
from kerasnlp_lite.export.verify import verify_tflite
from kerasnlp_lite.utils.validation import is_int


def export_saved_model(model, path, signatures=None):
    """Writes a SavedModel with named serving signatures.

    `serving_default` takes the model's inputs by name (any batch size and
    length); a `TextClassifier` / `TextEmbedder` with a preprocessor also gets
    `classify` / `embed` (input `text`, a `[B]` tf.string batch; see
    encoder_archive.py for outputs).

    Args:
        model: a backbone or task model.
        path: output directory.
        signatures: names to write (default all of `available_signatures(model)`).

    Returns:
        `path`.

    Example:
    >>> export_saved_model(embedder, "embedder_sm")
    >>> tf.saved_model.load("embedder_sm").signatures["embed"](text=tf.constant(["a cat"]))["embeddings"]
    """
    check_model(model)
    signatures = check_signatures(model, signatures)
    archive = build_encoder_archive(
        model, signatures, batch_size=None, sequence_length=None, text_batch_size=None, tflite=False
    )
    archive.write_out(os.fspath(path), verbose=False)
    return path


def export_tflite(
    model,
    path,
    quantize=None,
    representative_data=None,
    max_sequence_length=None,
    signatures=None,
    sample_inputs=None,
    sample_texts=None,
    text_batch_size=None,
    num_threads=1,
    max_length=None,
    timeout=900,
):
    """Converts a model to one `.tflite` file (builtin ops plus tf-text's), checks it, reports.

    Conversion runs in a child process (the converter leaks memory); the
    Keras side of the comparison runs here. A `CausalLM` is handed to
    `kerasnlp_lite.export.lm_bundle.export_causal_lm` (a generation
    signature with the KV cache; `max_length` is its total length), a
    `Seq2SeqLM` to `kerasnlp_lite.export.seq2seq.export_seq2seq_lm`
    (`max_length` decoder tokens, `max_sequence_length` source tokens).

    Args:
        model: a backbone or task of this library (any functional model with
            fixed-rank inputs).
        path: the `.tflite` file to write.
        quantize: None (float32), "float16", "dynamic_int8" (int8 weights,
            float activations) or "int8" (int8 weights and activations
            calibrated on `representative_data`, float fallback where an op
            has no int8 kernel).
        representative_data: for "int8": a list of input dicts keyed by the
            model's input names, each `[1, max_sequence_length]`; or, for a
            string-in model, a list of texts (calibrates both signatures).
            About 100 samples like the real data.
        max_sequence_length: the fixed length L of the id inputs; default the
            packer's `sequence_length`, else the backbone's.
        signatures: names to export (default `available_signatures(model)`).
        sample_inputs: input dicts (`[1, L]` each) to compare with Keras;
            default three generated from the input specs.
        sample_texts: texts for the string signature; default a small built-in set.
        text_batch_size: texts per call of the string signature; None (the
            default) accepts any batch size (tested with 1 and 3 texts a call),
            an int fixes it.
        num_threads: interpreter threads for the latency measure.
        max_length: `CausalLM` and `Seq2SeqLM` only.
        timeout: seconds allowed for the conversion.

    Returns:
        A `TFLiteExportReport` (verify.py); for a `CausalLM` or `Seq2SeqLM`,
        `export_causal_lm`'s or `export_seq2seq_lm`'s.

    Raises:
        ValueError: an unknown quantization mode or signature name; "int8"
            without `representative_data`.
        FlexOpError: an op (named, with its layer) has no builtin kernel.
    """
    from kerasnlp_lite.models.causal_lm import CausalLM
    from kerasnlp_lite.models.seq2seq.seq2seq_lm import Seq2SeqLM

    if isinstance(model, CausalLM):  # KV-cache decode signatures
        return export_causal_lm(model, path, max_length=max_length or max_sequence_length, quantize=quantize)
    if isinstance(model, Seq2SeqLM):  # encode once, cached decode loop
        length = max_length or max_sequence_length or model.backbone.max_sequence_length
        if length is None:
            raise ValueError(
                "A Seq2SeqLM whose backbone has no position limit (T5) needs `max_length` (decoder tokens) and "
                "`max_sequence_length` (source tokens) for its fixed-shape TFLite signature."
            )
        return export_seq2seq_lm(
            model, path, max_length=length, max_source_length=max_sequence_length or length, quantize=quantize
        )
    check_quantization(quantize, representative_data)
    check_model(model)
    signatures = check_signatures(model, signatures)
    if text_batch_size is not None and (not is_int(text_batch_size) or text_batch_size < 1):
        raise ValueError(f"`text_batch_size` must be a positive int or None, got {text_batch_size!r}.")
    length = max_sequence_length or default_sequence_length(model)
    if length is None:
        raise ValueError(f"Pass `max_sequence_length`: {type(model).__name__} does not say its sequence length.")
    packed_length = packer_length(model)
    text = text_signature(model)
    if text is not None and text[0] in signatures and packed_length is not None and packed_length != length:
        raise ValueError(
            f"`max_sequence_length`={length} differs from the packer's sequence_length={packed_length}; the id and "
            "string signatures must agree. Drop the argument or rebuild the packer."
        )
    tftext = text is not None and text[0] in signatures

    id_samples = sample_inputs if sample_inputs is not None else sample_id_inputs(model, length)
    texts = list(sample_texts if sample_texts is not None else DEFAULT_SAMPLE_TEXTS)
    batch = text_batch_size or 1
    text_samples = [texts[i : i + batch] for i in range(0, len(texts) - batch + 1, batch)]
    representative = None
    if quantize == "int8":
        representative = representative_samples(model, representative_data, signatures, text_batch_size)

    path = os.fspath(path)
    with tempfile.TemporaryDirectory() as tmp:
        saved_model_dir = os.path.join(tmp, "saved_model")
        archive = build_encoder_archive(model, signatures, batch_size=1, sequence_length=length, text_batch_size=text_batch_size)
        archive.write_out(saved_model_dir, verbose=False)
        convert_saved_model_in_child(saved_model_dir, path, signatures, quantize, representative, tftext, timeout)
    return verify_tflite(
        model, path, signatures, id_samples, text_samples, tftext, num_threads=num_threads, quantize=quantize
    )
