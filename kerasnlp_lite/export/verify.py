"""Checks of an exported file and the one report every export returns (`TFLiteExportReport`).

Encoders (`export_tflite`): every signature of the file is run with
`ai_edge_litert` on sample inputs and compared with the Keras model (max abs
diff, cosine), and timed. Generation bundles (`export_causal_lm`,
`export_seq2seq_lm`): their ops are checked, and a causal LM's greedy tokens
are compared with `CausalLM.generate` (`greedy_check`).
"""

import dataclasses
import os
import time

import keras
import numpy as np

from kerasnlp_lite.export.encoder_archive import call_model, named_outputs, text_signature
from kerasnlp_lite.export.format import GENERATE, ID_SIGNATURE, add_metadata, stamp_checksum
from kerasnlp_lite.export.runner import LiteRunner
from kerasnlp_lite.export.samples import as_bytes, preprocess_texts
from kerasnlp_lite.export.tflite import check_ops, make_interpreter, tflite_op_names


@dataclasses.dataclass
class TFLiteExportReport:
    """What an export wrote and measured: returned by `export_tflite`, `export_causal_lm`,
    `export_seq2seq_lm` and `verify_tflite`.

    Attributes:
        path: the `.tflite` file.
        size_bytes: its size.
        quantize: the quantization mode (one of `format.QUANTIZATION_MODES`).
        ops: op name -> count over all signatures (builtin names, custom codes).
        custom_ops: the custom (tf-text) op names among `ops`.
        signatures: name -> {"inputs": {name: ...}, "outputs": {...}}. Encoders:
            `(shape, dtype)` of each tensor as allocated; generation bundles:
            `LiteRunner.signatures` (`{"shape", "dtype"}`, -1 for a dynamic size).
        max_abs_diff: signature -> max |TFLite - Keras| over float outputs and
            samples (encoders; {} for generation bundles).
        min_cosine: signature -> the lowest per-example cosine similarity
            between TFLite and Keras float outputs (encoders).
        latency_ms: signature -> median time of one call (encoders, `num_threads` threads).
        num_samples: signature -> how many sample calls were compared (encoders).
        metadata: the generation bundle's `kerasnlp_lite` metadata ({} for encoders).
        greedy_check: `export_causal_lm(..., check=True)`: greedy tokens of
            `CausalLM.generate` and of the file (`prompt`, `keras`, `loop`,
            `generate`, `equal`); else None.
    """

    path: str
    size_bytes: int
    quantize: object
    ops: dict
    custom_ops: list
    signatures: dict
    max_abs_diff: dict = dataclasses.field(default_factory=dict)
    min_cosine: dict = dataclasses.field(default_factory=dict)
    latency_ms: dict = dataclasses.field(default_factory=dict)
    num_samples: dict = dataclasses.field(default_factory=dict)
    metadata: dict = dataclasses.field(default_factory=dict)
    greedy_check: dict = None

    def summary(self):
        lines = [f"{self.path}: {self.size_bytes / 2**20:.2f} MiB, quantize={self.quantize}"]
        lines.append("ops: " + ", ".join(f"{op} x{n}" for op, n in sorted(self.ops.items())))
        for name in self.signatures:
            if name not in self.max_abs_diff:
                lines.append(f"{name}: not compared with Keras")
                continue
            lines.append(
                f"{name}: max abs diff {self.max_abs_diff[name]:.3g}, min cosine {self.min_cosine[name]:.6f}, "
                f"{self.latency_ms[name]:.2f} ms/call over {self.num_samples[name]} samples"
            )
        if self.greedy_check is not None:
            lines.append(f"greedy tokens equal to CausalLM.generate: {self.greedy_check['equal']}")
        return "\n".join(lines)


def count_ops(op_names):
    """(op name -> count, sorted custom op names)."""
    ops = {op: op_names.count(op) for op in sorted(set(op_names))}
    return ops, sorted(op for op in ops if not op.isupper())


# --- encoders -----------------------------------------------------------------
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
    model, tflite_path, signatures, id_samples, text_samples, tftext, num_threads=1, latency_repeats=3, quantize=None
):
    """Runs each signature of the file with `ai_edge_litert` and compares with `model`.

    Args:
        model: the Keras model the file was exported from.
        tflite_path: the `.tflite` file.
        signatures: the signature names to run.
        id_samples: input dicts for `serving_default`.
        text_samples: batches of texts for the string signature.
        tftext: whether the file may hold tf-text's custom ops.
        num_threads: interpreter threads for the latency measure.
        latency_repeats: passes over (at most 10) sample calls timed.
        quantize: the file's quantization mode, for the report.

    Returns:
        A `TFLiteExportReport`.

    Raises:
        FlexOpError: the file has Flex ops or custom ops tf-text does not implement.
    """
    with open(tflite_path, "rb") as f:
        content = f.read()
    names = tflite_op_names(content)
    check_ops(names, tflite_path, tftext=tftext)
    ops, custom = count_ops(names)
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
            expected = [_float_outputs(named_outputs(model, call_model(model, s))) for s in calls]
        else:
            calls = [{"text": as_bytes(batch)} for batch in text_samples]
            expected = [{text[1]: keras.ops.convert_to_numpy(model(preprocess_texts(model, batch), training=False))} for batch in text_samples]
        worst, lowest = 0.0, 1.0
        for call, want in zip(calls, expected):
            got = runner(**call)
            d, c = _compare(got, want)
            worst, lowest = max(worst, d), min(lowest, c)
        diff[signature], cosine[signature], counts[signature] = worst, lowest, len(calls)
        latency[signature] = _measure(runner, calls, latency_repeats)
    return TFLiteExportReport(
        path=os.fspath(tflite_path), size_bytes=len(content), quantize=quantize, ops=ops, custom_ops=custom,
        signatures=details, max_abs_diff=diff, min_cosine=cosine, latency_ms=latency, num_samples=counts,
    )


# --- generation bundles ---------------------------------------------------------
def check_and_write_bundle(content, metadata, path):
    """Checks a converted generation bundle's ops (builtins and tf-text only), writes it to `path` with its
    metadata and weights checksum (`format.stamp_checksum`), and returns `(LiteRunner on it, TFLiteExportReport)`.

    Raises:
        FlexOpError: when some op is neither a builtin nor a tf-text op.
    """
    names = tflite_op_names(content)
    check_ops(names, "The generation bundle")
    content = stamp_checksum(add_metadata(content, metadata))  # the checksum last: nothing changes after it
    with open(path, "wb") as f:
        f.write(content)
    runner = LiteRunner(content)
    ops, custom = count_ops(names)
    report = TFLiteExportReport(
        path=path, size_bytes=len(content), quantize=metadata["quantize"], ops=ops, custom_ops=custom,
        signatures=runner.signatures, metadata=metadata,
    )
    return runner, report


def greedy_check(model, runner, num_new_tokens):
    """Greedy tokens of `CausalLM.generate` vs the file (both loops) on a fixed 3-token prompt."""
    vocabulary_size = model.backbone.vocabulary_size
    prompt = [int(t) % vocabulary_size for t in (5, 11, 17)]
    keras_ids = model.generate([prompt], max_length=len(prompt) + num_new_tokens, sampler="greedy")["token_ids"][0]
    check = {"prompt": prompt, "keras": keras_ids.tolist()}
    check["loop"] = runner.generate(prompt, num_new_tokens, use_generate_signature=False).tolist()
    if GENERATE in runner.signatures:
        check["generate"] = runner.generate(prompt, num_new_tokens, use_generate_signature=True).tolist()
    check["equal"] = all(check[key] == check["keras"] for key in ("loop", "generate") if key in check)
    return check
