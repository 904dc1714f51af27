"""Stores a tied embedding once in a dynamic-int8 TFLite file.

GPT ties its input and output embeddings (one variable `W_e` `[V, D]`, Press
and Wolf 2017). The TFLite converter's dynamic-range quantizer quantizes it
once per use: a per-tensor int8 table for the token lookup (GATHER, or
DEQUANTIZE then GATHER) and a per-channel int8 weight for the logits
(FULLY_CONNECTED, one scale per vocabulary row). At the GPT-2-small shape
that is 2 x 38.6 MB of a 170 MB file, and the same bytes twice.

`share_tied_embedding` points the FULLY_CONNECTED weights at the lookup
table's buffer and quantization (one scale for the whole table), then drops
the per-channel copy. The hybrid FULLY_CONNECTED kernel takes per-tensor
int8 weights, so no op changes. The price is precision: the logits use one
scale for all rows instead of one per row (measured with
benchmarks/on_device_quality.py).

Only a pair that is the same table is merged: same shape and int8 values
that dequantize to the same floats within half a step of either scale.
"""

import numpy as np


def unpack_model(content):
    """The flatbuffer object tree (`schema.ModelT`) of TFLite bytes, every buffer's bytes inline in `data`.

    Writers may keep large buffers after the flatbuffer (`offset` / `size`
    fields; litert-quantizer 0.11.0 does): packing the tree again would
    drop them, so they are moved into `data` here.
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    for buffer in model.buffers:
        if buffer.offset and buffer.size and buffer.data is None:
            buffer.data = np.frombuffer(content, np.uint8, count=buffer.size, offset=buffer.offset)
        buffer.offset, buffer.size = 0, 0
    return model


def _tensor_type(schema, name):
    return getattr(schema.TensorType, name)


def _scales(tensor):
    q = tensor.quantization
    return None if q is None or q.scale is None else np.asarray(q.scale, np.float32)


def share_tied_embedding(content):
    """Returns `(content, bytes_saved)`: TFLite bytes with each tied [V, D] int8 table stored once.

    Args:
        content: dynamic-int8 TFLite bytes (`export_causal_lm(..., quantize="dynamic_int8")`).

    Returns:
        The rewritten bytes and the bytes saved; `(content, 0)` unchanged when
        no lookup table and logits weight hold the same values.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = unpack_model(content)
    ops = {getattr(schema.BuiltinOperator, n): n for n in ("GATHER", "DEQUANTIZE", "FULLY_CONNECTED")}
    int8 = _tensor_type(schema, "INT8")
    lookup, logits = {}, {}  # buffer index -> (tensor of its first use)
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            name = ops.get(max(code.builtinCode, code.deprecatedBuiltinCode))
            position = 1 if name == "FULLY_CONNECTED" else 0  # the weight / the table
            if name is None or len(op.inputs) <= position or op.inputs[position] < 0:
                continue
            tensor = graph.tensors[op.inputs[position]]
            scales = _scales(tensor)
            constant = model.buffers[tensor.buffer].data is not None
            if tensor.type != int8 or scales is None or len(tensor.shape) != 2 or not constant:
                continue
            if name == "FULLY_CONNECTED" and len(scales) == tensor.shape[0] > 1:
                logits.setdefault(tensor.buffer, tensor)
            elif name != "FULLY_CONNECTED" and len(scales) == 1:
                lookup.setdefault(tensor.buffer, tensor)
    pairs = {}
    for table_buffer, table in lookup.items():
        for weight_buffer, weight in logits.items():
            if list(weight.shape) == list(table.shape) and _same_values(model, table, weight):
                pairs[weight_buffer] = table
    if not pairs:
        return content, 0
    saved = 0
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            if tensor.buffer in pairs:
                table = pairs[tensor.buffer]
                tensor.buffer = table.buffer
                tensor.quantization = _copy_quantization(schema, table.quantization)
    for weight_buffer in pairs:
        saved += len(model.buffers[weight_buffer].data)
        model.buffers[weight_buffer].data = None  # no tensor points here any more
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), saved


def _same_values(model, table, weight):
    """Whether per-tensor `table` and per-row `weight` quantize the same float matrix."""
    rows, columns = table.shape
    q_table = np.asarray(model.buffers[table.buffer].data).view(np.int8).reshape(rows, columns)
    q_weight = np.asarray(model.buffers[weight.buffer].data).view(np.int8).reshape(rows, columns)
    table_scale, weight_scales = _scales(table)[0], _scales(weight)[:, None]
    difference = np.abs(q_table * table_scale - q_weight * weight_scales)
    return bool(np.all(difference <= 0.5 * (table_scale + weight_scales) * 1.001 + 1e-12))


def _copy_quantization(schema, source):
    q = schema.QuantizationParametersT()
    q.scale = list(np.asarray(source.scale, np.float32))
    q.zeroPoint = list(np.asarray(source.zeroPoint, np.int64)) if source.zeroPoint is not None else [0]
    q.quantizedDimension = 0
    return q


def dedupe_buffers(content, min_bytes=1024):
    """Returns `(content, bytes_saved)`: TFLite bytes where constant buffers with identical bytes are stored once.

    litert-quantizer (0.11.0) gives each subgraph its own copy of a weight the
    signatures share (`prefill`, `decode`, `generate` and its loop body: four
    copies of every quantized matrix in a generation bundle). Tensors keep
    their own shape and quantization; only the bytes are shared, so the
    merge cannot change a result.

    Args:
        content: TFLite bytes.
        min_bytes: smaller buffers are left alone (not worth hashing).
    """
    import hashlib

    import flatbuffers

    model = unpack_model(content)
    first, remap = {}, {}
    for index, buffer in enumerate(model.buffers):
        if buffer.data is None or len(buffer.data) < min_bytes:
            continue
        key = hashlib.sha256(np.asarray(buffer.data).tobytes()).hexdigest()
        if key in first:
            remap[index] = first[key]
        else:
            first[key] = index
    if not remap:
        return content, 0
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            tensor.buffer = remap.get(tensor.buffer, tensor.buffer)
    saved = 0
    for index in remap:
        saved += len(model.buffers[index].data)
        model.buffers[index].data = None
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), saved
