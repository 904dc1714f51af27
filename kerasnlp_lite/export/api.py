"""`export_saved_model` and `export_tflite`: a model (and its tokenizer) to files a phone can run.

Signatures (the on-device contract, read by `LiteRunner`):

- `serving_default`: the model's own inputs, named as the Keras model's
  (`token_ids`, `segment_ids`, `padding_mask`, ..., int32). In TFLite every
  input is `[1, max_sequence_length]` (one example per call); in a SavedModel
  the batch and length are free.
- `classify` (a `TextClassifier` with a preprocessor): input `text` tf.string
  `[B]`, output `logits` float32 `[B, num_classes]`.
- `embed` (a `TextEmbedder` with a preprocessor): input `text`, output
  `embeddings` float32 `[B, hidden_dim]`.
  Both string signatures also output `num_truncated` int32 `[B]` (tokens the
  packer dropped; truncation is never silent). The tokenizer and packer run
  inside the graph: in TFLite as tf-text custom ops (register
  `tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS`) plus builtins. TFLite
  string signatures take any number of texts per call by default (tf-text's
  fast tokenizers run at batch > 1 here: tested with 1 and 3), as bytes;
  `text_batch_size=n` fixes it.

The route keeps the weights (shared NOTES): `keras.export.ExportArchive` in
this process, then `TFLiteConverter.from_saved_model` in a child process
(the converter leaks memory), then the file is checked here: its ops listed,
Flex refused, every signature run with `ai_edge_litert` and compared with
Keras on sample inputs.
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.export.tflite import QUANTIZE_MODES, FlexOpError, is_tftext_op, make_interpreter, tflite_op_names
from kerasnlp_lite.utils.validation import is_int

# (task class name, string signature, output name). Exact class names: a
# TokenClassifier (a TextClassifier subclass) has no string signature.
TEXT_SIGNATURES = {"TextClassifier": ("classify", "logits"), "TextEmbedder": ("embed", "embeddings")}
# Output name of the id signature for tasks with one output tensor.
SINGLE_OUTPUT_NAMES = {"TextClassifier": "logits", "TokenClassifier": "logits", "TextEmbedder": "embeddings"}
ID_SIGNATURE = "serving_default"

# Sentences used for string signatures when no `sample_texts` are given:
# punctuation, accents, CJK, numbers, an empty string and a long text.
DEFAULT_SAMPLE_TEXTS = (
    "The cat sat on the mat.",
    "Héllo, WORLD! Ça va?",
    "",
    "日本語のテキストと English words mixed, 42 times.",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 8,
)


@dataclasses.dataclass
class TFLiteExportReport:
    """What `export_tflite` wrote and measured.

    Attributes:
        path: the `.tflite` file.
        size_bytes: its size.
        quantize: the quantization mode.
        ops: op name -> count over all signatures (builtin names, custom codes).
        custom_ops: the custom (tf-text) op names among `ops`.
        signatures: name -> {"inputs": {name: (shape, dtype)}, "outputs": {...}}.
        max_abs_diff: signature -> max |TFLite - Keras| over float outputs and samples.
        min_cosine: signature -> the lowest per-example cosine similarity
            between TFLite and Keras float outputs.
        latency_ms: signature -> median time of one call (`num_threads` threads).
        num_samples: signature -> how many sample calls were compared.
    """

    path: str
    size_bytes: int
    quantize: object
    ops: dict
    custom_ops: list
    signatures: dict
    max_abs_diff: dict
    min_cosine: dict
    latency_ms: dict
    num_samples: dict

    def summary(self):
        lines = [f"{self.path}: {self.size_bytes / 2**20:.2f} MiB, quantize={self.quantize}"]
        lines.append("ops: " + ", ".join(f"{op} x{n}" for op, n in sorted(self.ops.items())))
        for name in self.signatures:
            lines.append(
                f"{name}: max abs diff {self.max_abs_diff[name]:.3g}, min cosine {self.min_cosine[name]:.6f}, "
                f"{self.latency_ms[name]:.2f} ms/call over {self.num_samples[name]} samples"
            )
        return "\n".join(lines)


# --- signatures -----------------------------------------------------------
def _input_names(model):
    if isinstance(model.input, dict):
        return list(model.input)
    return [tensor.name for tensor in model.inputs]


def _input_specs(model, batch_size, sequence_length):
    """name -> TensorSpec: the batch axis `batch_size`, other unknown axes `sequence_length`."""
    specs = {}
    for name, tensor in zip(_input_names(model), model.inputs):
        shape = list(tensor.shape)
        shape[0] = shape[0] if shape[0] is not None and batch_size is not None else batch_size
        shape[1:] = [sequence_length if dim is None else dim for dim in shape[1:]]
        specs[name] = tf.TensorSpec(shape, tensor.dtype, name=name)
    return specs


def _call_model(model, inputs):
    if isinstance(model.input, dict):
        return model(inputs, training=False)
    names = _input_names(model)
    args = [inputs[name] for name in names]
    return model(args if len(args) > 1 else args[0], training=False)


def _named_outputs(model, outputs):
    if isinstance(outputs, dict):
        return dict(outputs)
    if isinstance(outputs, (list, tuple)):
        return {f"output_{i}": out for i, out in enumerate(outputs)}
    return {SINGLE_OUTPUT_NAMES.get(type(model).__name__, "output_0"): outputs}


def text_signature(model):
    """`(signature name, output name)` of a model's string-input signature, or None."""
    entry = TEXT_SIGNATURES.get(type(model).__name__)
    if entry is None or getattr(model, "preprocessor", None) is None:
        return None
    return entry


def available_signatures(model):
    """The signature names `export_tflite` / `export_saved_model` can write for this model."""
    text = text_signature(model)
    return [ID_SIGNATURE] + ([text[0]] if text else [])


def _check_signatures(model, signatures):
    available = available_signatures(model)
    if signatures is None:
        return available
    if isinstance(signatures, str):
        signatures = [signatures]
    signatures = list(signatures)
    unknown = [s for s in signatures if s not in available]
    if unknown or not signatures:
        hint = ""
        if any(s in ("classify", "embed") for s in unknown):
            hint = (
                " String signatures need a TextClassifier ('classify') or TextEmbedder ('embed') built with a "
                "`preprocessor` (a TextPreprocessor holding the tokenizer and packer)."
            )
        raise ValueError(
            f"Unknown signature name(s) {unknown or signatures} for {type(model).__name__}; this model can export "
            f"{available}.{hint}"
        )
    return signatures


def _build_archive(model, signatures, batch_size, sequence_length, text_batch_size):
    """A `keras.export.ExportArchive` with the chosen endpoints."""
    from kerasnlp_lite.models.backbone import has_lora, merge_lora

    if has_lora(model):
        # Export kernel + (alpha / r) A B as plain kernels: the converter does
        # not fold the LoRA product (each projection would keep its extra
        # matmul, add and reshape) and quantization must see the merged kernel.
        model = merge_lora(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if ID_SIGNATURE in signatures:
        specs = _input_specs(model, batch_size, sequence_length)

        def serve(inputs):
            return _named_outputs(model, _call_model(model, inputs))

        archive.add_endpoint(ID_SIGNATURE, serve, input_signature=[specs])
    text = text_signature(model)
    if text is not None and text[0] in signatures:
        name, output_name = text
        preprocessor = _tokenize_only(model.preprocessor)
        length = _packer_length(model)

        def serve_text(text):
            packed = dict(preprocessor(text))
            num_truncated = packed.pop("num_truncated")
            if length is not None:
                # Static length (and batch, when fixed) for the converter: [B, L].
                packed = {k: tf.reshape(v, [text_batch_size or -1, length]) for k, v in packed.items()}
            inputs = {k: tf.cast(packed[k], model.input[k].dtype) for k in model.input}
            return {output_name: _call_model(model, inputs), "num_truncated": tf.cast(num_truncated, tf.int32)}

        archive.add_endpoint(name, serve_text, input_signature=[tf.TensorSpec([text_batch_size], tf.string, name="text")])
    return archive


def _tokenize_only(preprocessor):
    """The preprocessor with a tokenizer rebuilt without detokenization tables, when it has them.

    String signatures only tokenize; a WordPiece model built for detokenizing
    too is 0.5 MB larger (MiniLM's 30k vocabulary). Same ids either way.
    """
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if not getattr(tokenizer, "support_detokenization", False):
        return preprocessor
    config = dict(tokenizer.get_config(), support_detokenization=False)
    lean = type(preprocessor).from_config(
        dict(preprocessor.get_config(), tokenizer=keras.saving.serialize_keras_object(type(tokenizer).from_config(config)))
    )
    return lean


def _packer_length(model):
    packer = getattr(getattr(model, "preprocessor", None), "packer", None)
    return getattr(packer, "sequence_length", None)


def _default_sequence_length(model):
    length = _packer_length(model)
    if length is None:
        backbone = getattr(model, "backbone", model)
        length = getattr(backbone, "max_sequence_length", None)
    if length is None:  # a functional model around backbones: the shortest one's
        lengths = [getattr(layer, "max_sequence_length", None) for layer in model._flatten_layers()]
        lengths = [n for n in lengths if isinstance(n, int)]
        length = min(lengths) if lengths else None
    return length


def _check_model(model):
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise TypeError(
            f"Expected a built functional keras.Model (a backbone or task of this library), got {type(model).__name__}."
        )


def export_saved_model(model, path, signatures=None):
    """Writes a SavedModel with named serving signatures.

    `serving_default` takes the model's inputs by name (any batch size and
    length); a `TextClassifier` / `TextEmbedder` with a preprocessor also gets
    `classify` / `embed` (input `text`, a `[B]` tf.string batch; see the module
    docstring for outputs).

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
    _check_model(model)
    signatures = _check_signatures(model, signatures)
    archive = _build_archive(model, signatures, batch_size=None, sequence_length=None, text_batch_size=None)
    archive.write_out(os.fspath(path), verbose=False)
    return path


# --- sample inputs --------------------------------------------------------
def _vocabulary_size(model):
    backbone = getattr(model, "backbone", model)
    size = getattr(backbone, "vocabulary_size", None)
    if size is None:  # a functional model around backbones: ids valid for all of them
        sizes = [getattr(layer, "vocabulary_size", None) for layer in model._flatten_layers()]
        sizes = [n for n in sizes if isinstance(n, int)]
        sizes = sizes or [layer.input_dim for layer in model._flatten_layers() if isinstance(layer, keras.layers.Embedding)]
        size = min(sizes) if sizes else None
    return size


def sample_id_inputs(model, sequence_length, count=3, seed=0):
    """`count` single-example input dicts, chosen from the model's input specs.

    Real lengths vary (full, about half, 3 tokens); `padding_mask` is 1 on
    the real tokens, `segment_ids` switches to 1 halfway, `mask_positions`
    point at real tokens, `token_ids` are random ids >= 1 at real positions
    and 0 (padding) elsewhere.
    """
    rng = np.random.default_rng(seed)
    specs = _input_specs(model, 1, sequence_length)
    vocabulary_size = _vocabulary_size(model)
    if "token_ids" in specs and vocabulary_size is None:
        raise ValueError(
            f"Cannot tell the vocabulary size of {type(model).__name__} to make sample token ids; pass `sample_inputs`."
        )
    samples = []
    for i in range(count):
        sample = {}
        for name, spec in specs.items():
            shape = [int(d) for d in spec.shape]
            if any(d is None for d in shape):
                raise ValueError(f"Input {name!r} has an unknown shape {spec.shape}; pass `sample_inputs`.")
            width = shape[-1]
            real = [width, max(1, width // 2), min(3, width)][i % 3]
            position = np.broadcast_to(np.arange(width), shape)
            dtype = spec.dtype.as_numpy_dtype
            if name == "padding_mask":
                value = position < real
            elif name == "segment_ids":
                value = (position >= real // 2) & (position < real)
            elif name == "mask_positions":
                value = rng.integers(0, real, shape)
            elif name == "token_ids":
                value = rng.integers(1, vocabulary_size, shape) * (position < real)
            elif spec.dtype.is_floating:
                value = rng.standard_normal(shape)
            else:
                value = np.zeros(shape)
            sample[name] = np.asarray(value).astype(dtype)
        samples.append(sample)
    return samples


# --- conversion in a child process ----------------------------------------
def _convert_in_child(saved_model_dir, tflite_path, signatures, quantize, representative, tftext, timeout):
    command = [
        sys.executable,
        "-m",
        "kerasnlp_lite.export._export_worker",
        saved_model_dir,
        tflite_path,
        "--signatures",
        ",".join(signatures),
    ]
    if quantize:
        command += ["--quantize", quantize]
    if tftext:
        command.append("--tftext")
    with tempfile.TemporaryDirectory() as tmp:
        if representative is not None:
            # npz of plain arrays (no pickles, even between our own processes).
            samples_path = os.path.join(tmp, "representative.npz")
            np.savez(samples_path, **{
                f"{i}|{signature}|{name}": _plain_array(value)
                for i, (signature, inputs) in enumerate(representative)
                for name, value in inputs.items()
            })
            command += ["--representative", samples_path]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    error_path = tflite_path + ".error.json"
    if os.path.exists(error_path):
        with open(error_path) as f:
            error = json.load(f)
        os.remove(error_path)
        raise FlexOpError(error["message"], ops=error["ops"], locations=error["locations"])
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-30:])
        raise RuntimeError(f"TFLite conversion of {saved_model_dir} failed:\n{tail}")


def _plain_array(value):
    """numpy array without Python objects: strings become fixed-width UTF-8 bytes (dtype S)."""
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind == "U":
        items = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.reshape(-1).tolist()]
        array = np.array(items, dtype=bytes).reshape(array.shape)
    return array


def _representative(model, representative_data, signatures, text_batch_size):
    """[(signature, inputs)] for calibration, from input dicts or (string-in models) texts."""
    samples = list(representative_data)
    if not samples:
        raise ValueError("`representative_data` is empty; int8 calibration needs some samples (100 or so).")
    text = text_signature(model)
    if all(isinstance(s, (str, bytes)) for s in samples):
        if text is None:
            raise ValueError(
                f"`representative_data` holds strings but {type(model).__name__} has no string signature; "
                "pass input dicts keyed by the model's input names."
            )
        pairs = []
        batch = text_batch_size or 1
        for start in range(0, len(samples) - batch + 1, batch):
            texts = samples[start : start + batch]
            if text[0] in signatures:
                pairs.append((text[0], {"text": _as_bytes(texts)}))
            if ID_SIGNATURE in signatures:
                for row in _preprocess(model, texts, per_row=True):
                    pairs.append((ID_SIGNATURE, row))
        return pairs
    if not all(isinstance(s, dict) for s in samples):
        raise TypeError("`representative_data` must be a list of input dicts (or of strings for a string-in model).")
    if any(s != ID_SIGNATURE for s in signatures):
        raise ValueError(
            "`representative_data` of input dicts calibrates `serving_default` only; give strings (texts) to "
            f"calibrate the string signature too, or export signatures=['{ID_SIGNATURE}']."
        )
    names = set(_input_names(model))
    for sample in samples:
        if set(sample) != names:
            raise ValueError(f"`representative_data` items must have keys {sorted(names)}, got {sorted(sample)}.")
    return [(ID_SIGNATURE, {k: np.asarray(v) for k, v in s.items()}) for s in samples]


def _as_bytes(texts):
    # TFLite string inputs must be bytes: unicode arrays silently give garbage (shared NOTES).
    return np.array([t.encode("utf-8") if isinstance(t, str) else t for t in texts], dtype=object)


def _preprocess(model, texts, per_row=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation is reported by the num_truncated output
        inputs = model.preprocess(list(texts))
    inputs = {k: np.asarray(inputs[k]).astype(model.input[k].dtype) for k in model.input}
    if not per_row:
        return inputs
    return [{k: v[i : i + 1] for k, v in inputs.items()} for i in range(len(texts))]


# --- verification ---------------------------------------------------------
def _compare(lite_outputs, keras_outputs):
    """(max abs diff, min cosine) over the float outputs of one call."""
    worst, cosine = 0.0, 1.0
    for name, expected in keras_outputs.items():
        expected = np.asarray(expected, dtype=np.float64)
        actual = np.asarray(lite_outputs[name], dtype=np.float64)
        if actual.shape != expected.shape:
            raise AssertionError(f"TFLite output {name!r} has shape {actual.shape}, Keras {expected.shape}.")
        worst = max(worst, float(np.max(np.abs(actual - expected))) if expected.size else 0.0)
        for a, e in zip(actual.reshape(len(actual), -1), expected.reshape(len(expected), -1)):
            denominator = np.linalg.norm(a) * np.linalg.norm(e)
            cosine = min(cosine, float(a @ e / denominator) if denominator > 0 else float(np.array_equal(a, e)))
    return worst, cosine


def _float_outputs(outputs):
    return {
        k: keras.ops.convert_to_numpy(v)
        for k, v in outputs.items()
        if "float" in keras.backend.standardize_dtype(v.dtype)
    }


def _measure(runner, calls, repeats):
    """Median ms of one call, over the first 10 sample calls `repeats` times."""
    runner(**calls[0])  # warm-up (allocates tensors)
    times = []
    for _ in range(repeats):
        for call in calls[:10]:
            start = time.perf_counter()
            runner(**call)
            times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times))


def verify_tflite(
    model, tflite_path, signatures, id_samples, text_samples, tftext, num_threads=1, latency_repeats=3
):
    """Runs each signature of the file with `ai_edge_litert` and compares with `model`.

    Returns (ops, custom ops, signature details, max abs diff, min cosine, latency, sample counts).
    """
    with open(tflite_path, "rb") as f:
        content = f.read()
    names = tflite_op_names(content)
    flex = sorted({op for op in names if op.startswith("Flex")})
    if flex:
        raise FlexOpError(
            f"{tflite_path} needs Flex ops {flex}, which LiteRT 2.x cannot run; replace them with builtin ops.", ops=flex
        )
    ops = {op: names.count(op) for op in sorted(set(names))}
    custom = sorted(op for op in ops if not op.isupper())
    # With custom ops allowed, the converter turns any TF op it cannot lower
    # into a custom op of the same name instead of failing: refuse those here.
    foreign = [op for op in custom if not (tftext and is_tftext_op(op))]
    if foreign:
        raise FlexOpError(
            f"{tflite_path} has custom op(s) {foreign} that neither TFLite's builtins nor tf-text implement (a TF op "
            "the converter could not lower, often for its dtype, e.g. int64 sums): LiteRT cannot run it. Rewrite "
            "that op (cast to int32 / float32) in the layer that uses it.",
            ops=foreign,
        )
    interpreter = make_interpreter(model_path=tflite_path, num_threads=num_threads, tftext_ops=tftext)
    listed = interpreter.get_signature_list()
    missing = [s for s in signatures if s not in listed]
    if missing:
        raise RuntimeError(f"{tflite_path} lacks signature(s) {missing}; it has {sorted(listed)}.")
    details, diff, cosine, latency, counts = {}, {}, {}, {}, {}
    text = text_signature(model)
    for signature in signatures:
        runner = interpreter.get_signature_runner(signature)
        details[signature] = {
            "inputs": {k: (tuple(int(d) for d in v["shape"]), np.dtype(v["dtype"]).name) for k, v in runner.get_input_details().items()},
            "outputs": {k: (tuple(int(d) for d in v["shape"]), np.dtype(v["dtype"]).name) for k, v in runner.get_output_details().items()},
        }
        if signature == ID_SIGNATURE:
            calls = [{k: np.asarray(v) for k, v in s.items()} for s in id_samples]
            expected = [_float_outputs(_named_outputs(model, _call_model(model, s))) for s in calls]
        else:
            calls = [{"text": _as_bytes(batch)} for batch in text_samples]
            expected = [{text[1]: keras.ops.convert_to_numpy(model(_preprocess(model, batch), training=False))} for batch in text_samples]
        worst, lowest = 0.0, 1.0
        for call, want in zip(calls, expected):
            got = runner(**call)
            d, c = _compare(got, want)
            worst, lowest = max(worst, d), min(lowest, c)
        diff[signature], cosine[signature], counts[signature] = worst, lowest, len(calls)
        latency[signature] = _measure(runner, calls, latency_repeats)
    return ops, custom, details, diff, cosine, latency, counts


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
    `kerasnlp_lite.export.generation.export_causal_lm` (a generation
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
        A `TFLiteExportReport`.

    Raises:
        ValueError: an unknown quantization mode or signature name; "int8"
            without `representative_data`.
        FlexOpError: an op (named, with its layer) has no builtin kernel.
    """
    from kerasnlp_lite.models.causal_lm import CausalLM

    if isinstance(model, CausalLM):
        from kerasnlp_lite.export.generation import export_causal_lm  # KV-cache decode signatures

        return export_causal_lm(model, path, max_length=max_length or max_sequence_length, quantize=quantize)
    from kerasnlp_lite.models.seq2seq.seq2seq_lm import Seq2SeqLM

    if isinstance(model, Seq2SeqLM):
        from kerasnlp_lite.export.seq2seq import export_seq2seq_lm  # encode once, cached decode loop

        length = max_length or max_sequence_length or model.backbone.max_sequence_length
        if length is None:
            raise ValueError(
                "A Seq2SeqLM whose backbone has no position limit (T5) needs `max_length` (decoder tokens) and "
                "`max_sequence_length` (source tokens) for its fixed-shape TFLite signature."
            )
        return export_seq2seq_lm(
            model, path, max_length=length, max_source_length=max_sequence_length or length, quantize=quantize
        )
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"`quantize` must be one of {QUANTIZE_MODES}, got {quantize!r}.")
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            "`quantize='int8'` calibrates activation ranges and needs `representative_data` (a list of input dicts, "
            "or of texts for a string-in model); or use quantize='dynamic_int8', which needs none."
        )
    _check_model(model)
    signatures = _check_signatures(model, signatures)
    if text_batch_size is not None and (not is_int(text_batch_size) or text_batch_size < 1):
        raise ValueError(f"`text_batch_size` must be a positive int or None, got {text_batch_size!r}.")
    length = max_sequence_length or _default_sequence_length(model)
    if length is None:
        raise ValueError(f"Pass `max_sequence_length`: {type(model).__name__} does not say its sequence length.")
    packer_length = _packer_length(model)
    text = text_signature(model)
    if text is not None and text[0] in signatures and packer_length is not None and packer_length != length:
        raise ValueError(
            f"`max_sequence_length`={length} differs from the packer's sequence_length={packer_length}; the id and "
            "string signatures must agree. Drop the argument or rebuild the packer."
        )
    tftext = text is not None and text[0] in signatures

    id_samples = sample_inputs if sample_inputs is not None else sample_id_inputs(model, length)
    texts = list(sample_texts if sample_texts is not None else DEFAULT_SAMPLE_TEXTS)
    batch = text_batch_size or 1
    text_samples = [texts[i : i + batch] for i in range(0, len(texts) - batch + 1, batch)]
    representative = None
    if quantize == "int8":
        representative = _representative(model, representative_data, signatures, text_batch_size)

    path = os.fspath(path)
    with tempfile.TemporaryDirectory() as tmp:
        saved_model_dir = os.path.join(tmp, "saved_model")
        archive = _build_archive(model, signatures, batch_size=1, sequence_length=length, text_batch_size=text_batch_size)
        archive.write_out(saved_model_dir, verbose=False)
        _convert_in_child(saved_model_dir, path, signatures, quantize, representative, tftext, timeout)
    ops, custom, details, diff, cosine, latency, counts = verify_tflite(
        model, path, signatures, id_samples, text_samples, tftext, num_threads=num_threads
    )
    return TFLiteExportReport(
        path=path,
        size_bytes=os.path.getsize(path),
        quantize=quantize,
        ops=ops,
        custom_ops=custom,
        signatures=details,
        max_abs_diff=diff,
        min_cosine=cosine,
        latency_ms=latency,
        num_samples=counts,
    )
