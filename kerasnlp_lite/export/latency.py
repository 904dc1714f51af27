"""On-device latency of an exported generation model, measured with `LiteRunner`."""

import statistics
import time

import numpy as np

from kerasnlp_lite.export.format import DECODE, PREFILL, cache_names


def decode_latency_ms(runner, prompt_ids, steps=16, warmup=2):
    """Median milliseconds of one cached `decode` step after prefilling `prompt_ids`.

    Runs `prefill` once, then `warmup + steps` greedy `decode` steps, each
    feeding the cache back, and times the decode calls only.

    Args:
        runner: a `LiteRunner` on a file from `export_causal_lm`.
        prompt_ids: a 1-D list of token ids.
        steps: timed decode steps (prompt + warmup + steps must fit the
            exported `max_length`).
        warmup: untimed steps first.
    """
    prompt = np.asarray(prompt_ids, np.int32).reshape(-1)
    if prompt.size + warmup + steps > runner.max_length:
        raise ValueError(
            f"prompt ({prompt.size}) + warmup ({warmup}) + steps ({steps}) tokens exceed the exported "
            f"max_length={runner.max_length}; use a shorter prompt or fewer steps."
        )
    padded = np.zeros((1, runner.max_length), np.int32)
    padded[0, : prompt.size] = prompt
    out = runner.run(PREFILL, token_ids=padded, length=np.array([prompt.size], np.int32))
    names = cache_names(runner.metadata["num_layers"])
    times = []
    for step in range(warmup + steps):
        token = int(np.argmax(out["logits"][0]))
        inputs = {name: out[name] for name in names}
        start = time.perf_counter()
        out = runner.run(
            DECODE, token_id=np.array([[token]], np.int32), cache_index=np.array([prompt.size + step], np.int32),
            **inputs,
        )
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def decode_bytes_per_token(content, signature=DECODE):
    """Bytes one call of a generation bundle's `decode` signature reads from memory, without running it.

    A batch-1 decode step reads every weight it uses once, so `bytes / memory bandwidth` bounds its speed on
    any kernel (`bandwidth_bound_tokens_per_s`). Counted from the file: every constant tensor an op of the
    signature's subgraph reads (a GATHER lookup table: one row per token, unless another op reads it whole,
    as a tied logits layer does), and every key/value cache input, read whole (attention reads all L slots).

    Args:
        content: the bundle's bytes (`export_causal_lm`).
        signature: the signature whose subgraph is counted.

    Returns:
        `{"weights": bytes, "caches": bytes}`.

    Raises:
        ValueError: the file has no such signature.
    """
    from ai_edge_litert import schema_py_generated as schema

    from kerasnlp_lite.export.tflite import builtin_codes

    model = schema.Model.GetRootAs(bytearray(content), 0)
    graphs = [model.Subgraphs(i) for i in range(model.SubgraphsLength())]
    graph = next((g for g in graphs if g.Name() == signature.encode()), None)
    if graph is None:
        raise ValueError(f"`content` has no {signature!r} signature: pass a generation bundle (export_causal_lm).")
    codes = builtin_codes(model)
    inputs = {graph.Inputs(i) for i in range(graph.InputsLength())}
    whole = {}  # constant tensor -> read whole (True) or one row by GATHER only (False)
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        gather = codes[op.OpcodeIndex()] == schema.BuiltinOperator.GATHER
        for position in range(op.InputsLength()):
            index = op.Inputs(position)
            if index >= 0 and index not in inputs:
                whole[index] = whole.get(index, False) or not (gather and position == 0)
    weights = 0
    for index, read_whole in whole.items():
        tensor = graph.Tensors(index)
        buffer = model.Buffers(tensor.Buffer())
        size = int(buffer.Size()) if buffer.Size() else buffer.DataLength()  # 0: an activation
        weights += size if read_whole else size // max(int(tensor.Shape(0)), 1)
    caches = 0
    for index in inputs:
        tensor = graph.Tensors(index)
        if b"key_cache" in tensor.Name() or b"value_cache" in tensor.Name():
            caches += int(np.prod(tensor.ShapeAsNumpy())) * 4  # float32
    return {"weights": weights, "caches": caches}


def read_bandwidth_gb_s(megabytes=512, repeats=5):
    """Single-thread memory read bandwidth (GB/s): the fastest numpy pass (max, sum) over a float32 array
    larger than any CPU cache. numpy runs these reductions on one thread."""
    data = np.ones(int(megabytes) * 2**20 // 4, np.float32)
    best = float("inf")
    for reduce in (data.max, data.sum):
        for _ in range(repeats):
            start = time.perf_counter()
            reduce()
            best = min(best, time.perf_counter() - start)
    return data.nbytes / best / 1e9


def bandwidth_bound_tokens_per_s(content, bandwidth_gb_s=None):
    """The most tokens/s a 1-thread decode of this bundle can reach: bytes per step
    (`decode_bytes_per_token`) read at `bandwidth_gb_s` (default: `read_bandwidth_gb_s()` measured now)."""
    bandwidth = read_bandwidth_gb_s() if bandwidth_gb_s is None else float(bandwidth_gb_s)
    return bandwidth * 1e9 / sum(decode_bytes_per_token(content).values())
