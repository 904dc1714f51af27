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
