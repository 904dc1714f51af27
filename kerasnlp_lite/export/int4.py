"""int4 weights for a causal-LM bundle, written by Google's litert-quantizer (`export_causal_lm(..., quantize="int4")`).

litert-quantizer (PyPI, the successor of ai-edge-quantizer; our test extra,
not a runtime dependency) rewrites a float32 TFLite file's
FULLY_CONNECTED weights. The recipe here, measured with
benchmarks/on_device_quality.py and benchmarks/on_device_decode.py:

- the feed-forward layers of the decoder blocks: int4 in blocks of 32
  along the input dimension (dynamic-range: activations quantized per
  call, XNNPack's blockwise int4 kernels);
- the attention projections (q, k, v, output): int8, one scale per output
  channel. They are a third of a block's weights; at int4 they cost most
  of the agreement with float32 (trained 2 x 128 GPT, teacher-forced top-1
  agreement 0.945 all-int4 vs 0.968 with int8 attention) for no speed
  (GPT-2 small, one decode step: 12.3 ms either way);
- every other FULLY_CONNECTED, i.e. the logits layer in every signature
  (the converter names it differently per signature: `lm_head`, or the
  signature's output name), int8 per row. A logits layer left float32 reads
  the whole `[V, D]` table in float per token: GPT-2 small's step-wise
  decode went 20.0 -> 12.3 ms when `decode`'s head became int8 too.

The embedding lookup (GATHER) keeps its float32 table: litert-quantizer
0.11 has no weight-only mode for GATHER. It is read one row per token, so
it costs file size, not decode time. The quantizer writes each subgraph's
copy of a weight separately; `dedupe_buffers` merges the identical ones.
"""

import re


def require_quantizer():
    try:
        from litert_quantizer import quantizer, qtyping, recipe_manager
    except ImportError as error:
        raise ImportError(
            "quantize='int4' uses Google's litert-quantizer, which is not installed: `pip install "
            "litert-quantizer` (it is in kerasnlp_lite's `test` extra), or export with quantize='dynamic_int8'."
        ) from error
    return quantizer, qtyping, recipe_manager


def block_scopes(block_names):
    """Regexes over the converter's tensor names: (any layer of these blocks, their attention layers).

    The converter names a tensor `<block>_<n>/<sublayer>_<n>/...` (Keras adds `_<n>` to a name scope
    used twice), and `while/<block>...` inside a WHILE body.
    """
    names = "|".join(re.escape(name) for name in block_names)
    block = rf"(^|[/;])({names})(_\d+)?/"
    return block, block + r"self_attention(_\d+)?/"


def quantize_int4(content, block_names, attention_bits=8):
    """Returns `(content, counts)`: float32 TFLite bytes with int4 / int8 FULLY_CONNECTED weights (module docstring).

    Args:
        content: a float32 bundle (`export_causal_lm(..., quantize=None)` bytes).
        block_names: the Keras names of the decoder blocks (`decoder_block_0`, ...).
        attention_bits: 8 (the default recipe) or 4 (attention projections at int4 too).

    Returns:
        The quantized bytes (identical weight copies merged; no checksum: the caller stamps it) and the
        number of FULLY_CONNECTED weights per type, `{"int4": n, "int8": n, "float32": n}`.

    Raises:
        ImportError: litert-quantizer is not installed.
        ValueError: `attention_bits` not 4 or 8.
        RuntimeError: no weight became int4 (the block names match no tensor of this file).
    """
    if attention_bits not in (4, 8):
        raise ValueError(f"`attention_bits` must be 4 or 8, got {attention_bits!r}.")
    from kerasnlp_lite.export.weight_sharing import dedupe_buffers

    quantizer, qtyping, recipe_manager = require_quantizer()
    fully_connected, granularity = qtyping.TFLOperationName.FULLY_CONNECTED, qtyping.QuantGranularity
    block, attention = block_scopes(block_names)
    manager = recipe_manager.RecipeManager()  # the last matching scope wins
    manager.add_dynamic_config(regex=".*", operation_name=fully_connected, num_bits=8,
                               granularity=granularity.CHANNELWISE)
    manager.add_dynamic_config(regex=block, operation_name=fully_connected, num_bits=4,
                               granularity=granularity.BLOCKWISE_32)
    if attention_bits == 8:
        manager.add_dynamic_config(regex=attention, operation_name=fully_connected, num_bits=8,
                                   granularity=granularity.CHANNELWISE)
    model = quantizer.Quantizer(bytearray(content))
    model.load_quantization_recipe(manager.get_quantization_recipe())
    quantized, _ = dedupe_buffers(bytes(model.quantize().quantized_model))
    counts = fully_connected_weight_types(quantized)
    if not counts["int4"]:
        raise RuntimeError(f"No FULLY_CONNECTED weight became int4: no tensor name matches {block!r}.")
    return quantized, counts


def fully_connected_weight_types(content):
    """`{"int4": n, "int8": n, "float32": n}`: the FULLY_CONNECTED weights of every subgraph, by type."""
    from ai_edge_litert import schema_py_generated as schema

    from kerasnlp_lite.export.tflite import builtin_codes

    model = schema.Model.GetRootAs(bytearray(content), 0)
    counts = {"int4": 0, "int8": 0, "float32": 0}
    codes = builtin_codes(model)
    names = {schema.TensorType.INT4: "int4", schema.TensorType.INT8: "int8", schema.TensorType.FLOAT32: "float32"}
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            if codes[op.OpcodeIndex()] != schema.BuiltinOperator.FULLY_CONNECTED:
                continue
            kind = names.get(graph.Tensors(op.Inputs(1)).Type())
            if kind:
                counts[kind] += 1
    return counts
