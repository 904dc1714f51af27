"""The on-device contract in one place: quantization modes, signature names, metadata (export/CONTRACT.md).

Every other module of `kerasnlp_lite.export` (and `kerasnlp-lite export`)
reads these names from here. Importing this module loads neither TensorFlow
nor LiteRT (nor numpy): the command-line parser uses it.
"""

import json

# --- quantization -------------------------------------------------------------
# None: float32. "float16": float16 weights. "dynamic_int8": int8 weights, float activations (the size to
# ship). "int8": int8 weights and activations, calibrated on representative data.
QUANTIZATION_MODES = (None, "float16", "dynamic_int8", "int8")
# The modes that need no representative data: all a generation bundle offers (calibrating int8 activations
# would need representative KV caches) and all the command line can ask for.
UNCALIBRATED_QUANTIZATION_MODES = tuple(mode for mode in QUANTIZATION_MODES if mode != "int8")
# A LiteRT-LM bundle (litertlm.py): float32 or int8 weights, the two its CPU executor was run with here.
LITERTLM_QUANTIZATION_MODES = tuple(mode for mode in UNCALIBRATED_QUANTIZATION_MODES if mode != "float16")
# A causal-LM `.tflite` bundle also offers "int4": int4 feed-forward weights (blocks of 32), int8 attention and
# logits, written by Google's litert-quantizer after a float32 conversion (int4.py; litert-quantizer installed).
CAUSAL_LM_QUANTIZATION_MODES = UNCALIBRATED_QUANTIZATION_MODES + ("int4",)


def check_quantization(quantize, representative_data=None, calibrated=True, modes=None):
    """Raises ValueError unless `quantize` is a mode the export can write.

    Args:
        quantize: the mode asked for, one of `QUANTIZATION_MODES`.
        representative_data: the calibration samples given; "int8" needs them.
        calibrated: False for a generation bundle, which offers
            `UNCALIBRATED_QUANTIZATION_MODES` only.
        modes: the modes offered, when not those `calibrated` implies
            (`CAUSAL_LM_QUANTIZATION_MODES`).
    """
    if modes is None:
        modes = QUANTIZATION_MODES if calibrated else UNCALIBRATED_QUANTIZATION_MODES
    if quantize not in modes:
        why = "" if calibrated else " for a generation bundle"
        note = "" if calibrated else " (full int8 needs representative caches, not supported here)"
        raise ValueError(f"`quantize` must be one of {modes}{why}, got {quantize!r}{note}.")
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            "`quantize='int8'` calibrates activation ranges and needs `representative_data` (a list of input dicts, "
            "or of texts for a string-in model); or use quantize='dynamic_int8', which needs none."
        )


# --- signature names ----------------------------------------------------------
# Encoders, classifiers, embedders (`export_tflite`, `export_saved_model`): the model's own inputs.
ID_SIGNATURE = "serving_default"
# task class name -> (string-input signature, its output name). Exact class names: a TokenClassifier (a
# TextClassifier subclass) has no string signature.
TEXT_SIGNATURES = {"TextClassifier": ("classify", "logits"), "TextEmbedder": ("embed", "embeddings")}
# Output name of the id signature for tasks with one output tensor.
SINGLE_OUTPUT_NAMES = {"TextClassifier": "logits", "TokenClassifier": "logits", "TextEmbedder": "embeddings"}

# Generation bundles (`export_causal_lm`, `export_seq2seq_lm`).
TOKENIZE, DETOKENIZE = "tokenize", "detokenize"
PREFILL, DECODE, GENERATE = "prefill", "decode", "generate"


def cache_names(num_layers):
    """`key_cache_0, value_cache_0, key_cache_1, ...`: the cache inputs/outputs in order."""
    return [f"{kind}_cache_{i}" for i in range(num_layers) for kind in ("key", "value")]


# --- on-device sampling -------------------------------------------------------
# The Wichmann-Hill generator of `generate` (Wichmann & Hill 1982, Applied Statistics 31:188): three LCGs
# x <- a x mod m; u = frac(sum x / m). int32 multiply and modulo only, so it converts to builtins and takes
# its seed as an input; `LiteRunner` replays it in numpy.
WH_MULTIPLIERS = (171, 172, 170)
WH_MODULI = (30269, 30307, 30323)

# --- metadata -----------------------------------------------------------------
METADATA_NAME = "kerasnlp_lite"  # the TFLite metadata entry holding the bundle's JSON
CAUSAL_LM_FORMAT = "kerasnlp_lite.causal_lm/1"
SEQ2SEQ_LM_FORMAT = "kerasnlp_lite.seq2seq_lm/1"


def bundle_metadata(format_name, max_length, top_k_limit, max_top_k, max_stop_tokens, quantize, **fields):
    """The metadata of a generation bundle: the keys every bundle has, then `fields` (the model kind's own).

    `top_k_limit` is the (decoder) vocabulary size, which bounds `max_top_k`.
    """
    return {
        "format": format_name,
        "max_length": int(max_length),
        "max_top_k": min(int(max_top_k), int(top_k_limit)),  # `generate`'s static top-k width
        "max_stop_tokens": int(max_stop_tokens),
        "quantize": quantize,
        "batch_size": 1,
        **fields,
    }


def add_metadata(content, metadata):
    """TFLite bytes with a `kerasnlp_lite` metadata entry holding `metadata` as JSON (replacing any earlier one)."""
    return _set_metadata_entry(content, METADATA_NAME, json.dumps(metadata, sort_keys=True).encode())


def read_metadata(content):
    """The `kerasnlp_lite` metadata dict of TFLite bytes, or {} when it has none."""
    data = _read_metadata_entry(content, METADATA_NAME)
    return {} if data is None else json.loads(data.decode())


# --- weights checksum -----------------------------------------------------------
# A metadata entry of its own (not a key of the bundle's JSON), so every file gets one (encoders have no
# `kerasnlp_lite` entry) and rewriting the bundle's metadata keeps it.
CHECKSUM_NAME = "kerasnlp_lite.weights_sha256"
_CHECKSUM_BYTES = 160  # the entry's JSON, padded with spaces: room for any buffer count and size


def weights_checksum(content):
    """`{"sha256", "num_buffers", "num_bytes"}` of a TFLite model's constant buffers (its weights).

    sha256 over every buffer in index order (its index and length as two little-endian uint64, then its
    bytes), leaving out the buffers that metadata entries point to: metadata is not weights, and the checksum
    itself lives in one. Buffers stored after the flatbuffer (files over 2 GB: `offset` > 1) are read from
    there. Reads the buffers in place (no copy), so it costs about one sha256 pass over the file.
    """
    import hashlib
    import struct

    from ai_edge_litert import schema_py_generated as schema

    view = memoryview(content)
    model = schema.Model.GetRootAs(content, 0)
    metadata_buffers = {model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
    digest, count, total = hashlib.sha256(), 0, 0
    for index in range(model.BuffersLength()):
        if index in metadata_buffers:
            continue
        buffer = model.Buffers(index)
        if buffer.Offset() > 1:
            data = view[buffer.Offset() : buffer.Offset() + buffer.Size()]
        else:
            array = buffer.DataAsNumpy()
            data = b"" if isinstance(array, int) else array.data  # 0 when the buffer has no data
        digest.update(struct.pack("<QQ", index, len(data)))
        digest.update(data)
        count, total = count + 1, total + len(data)
    return {"sha256": digest.hexdigest(), "num_buffers": count, "num_bytes": total}


def stamp_checksum(content):
    """TFLite bytes with their `weights_checksum` in the `CHECKSUM_NAME` metadata entry (replacing any earlier one).

    The last step of every writer of a `.tflite` file (`tflite.write_conversion`, the bundles'
    `check_and_write_bundle`, `ByteBPETokenizer.export_tflite`; not the model LiteRT-LM loads from a
    `.litertlm` bundle): anything that changes the weights afterwards
    (a quantizer, a weight patch) must call it again, or `LiteRunner` refuses the file. Metadata written later
    (`add_metadata`) leaves the checksum valid.

    The entry has a fixed length, so stamping a file that has one overwrites it in place (one pass over the
    file); the first stamp rebuilds the flatbuffer (measured about 5 s per 100 MB on a shared 2-core machine).
    """
    data = json.dumps(weights_checksum(content), sort_keys=True).encode().ljust(_CHECKSUM_BYTES)
    location = _metadata_entry_location(content, CHECKSUM_NAME)
    if location is not None and location[1] == len(data):
        start = location[0]
        return content[:start] + data + content[start + len(data) :]
    return _set_metadata_entry(content, CHECKSUM_NAME, data)


def check_checksum(content, source):
    """Raises ValueError naming `source` when the stamped weights checksum does not match the weights.

    Returns the stamped checksum dict, or None for a file without one (written before checksums, or by
    another tool): nothing to check.
    """
    data = _read_metadata_entry(content, CHECKSUM_NAME)
    if data is None:
        return None
    try:
        stamped = json.loads(data.decode())
        expected = stamped["sha256"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{source} has an unreadable `{CHECKSUM_NAME}` metadata entry: the file is damaged.") from None
    actual = weights_checksum(content)
    if actual["sha256"] != expected:
        raise ValueError(
            f"{source}: weights checksum mismatch. Its {actual['num_buffers']} weight buffers "
            f"({actual['num_bytes']} bytes) hash to sha256 {actual['sha256'][:16]}..., the export stamped "
            f"{expected[:16]}... ({stamped.get('num_buffers')} buffers, {stamped.get('num_bytes')} bytes). The file "
            "was damaged or changed after export: export or copy it again (a tool that rewrites the weights on "
            "purpose must call `kerasnlp_lite.export.format.stamp_checksum` on its output)."
        )
    return stamped


def _read_metadata_entry(content, name):
    """The bytes of the metadata entry `name`, or None."""
    location = _metadata_entry_location(content, name)
    return None if location is None else bytes(content[location[0] : location[0] + location[1]])


def _metadata_entry_location(content, name):
    """(byte offset, length) of the data of the metadata entry `name` in `content`, or None."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() in (name, name.encode()):
            buffer = model.Buffers(entry.Buffer())
            if buffer.DataLength() == 0:
                return 0, 0
            # The vector's position in `content` (flatbuffers vectors are stored inline, after their length).
            return buffer._tab.Vector(buffer._tab.Offset(4)), buffer.DataLength()
    return None


def _set_metadata_entry(content, name, data):
    """TFLite bytes whose metadata entry `name` holds `data`: an existing entry's buffer is overwritten (no
    orphaned buffer left behind), else a buffer and an entry are appended."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    names = (name, name.encode())
    entry = next((m for m in (model.metadata or []) if m.name in names), None)
    if entry is None:
        model.buffers.append(schema.BufferT())
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers) - 1
        model.metadata = list(model.metadata or []) + [entry]
    model.buffers[entry.buffer].data = np.frombuffer(data, np.uint8)
    builder = flatbuffers.Builder(len(content) + len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
