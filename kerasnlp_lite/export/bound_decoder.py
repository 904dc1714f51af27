"""Step-wise generation with the KV cache left inside the interpreter.

Used by `LiteRunner.generate(..., use_generate_signature=False)`.

Driving `prefill` / `decode` through `SignatureRunner` copies every cache
through Python at every token: the runner's input check (`astype`), then
`SetTensor` in, then `GetTensor` out, about 19 MB each way per token at
the GPT-2-small shape (12 layers x K, V of `[1, 12, 256, 64]` float32),
which made the step-wise loop about 2x slower than the in-graph `generate`
loop (benchmarks/on_device_decode.py has the breakdown).

Here the caches never leave the interpreter. Shape legend: L = exported
`max_length`, N heads, H head size, V vocabulary.

- `prefill` runs its subgraph, then copies each output cache straight into
  the matching input tensor of the `decode` subgraph (one memcpy per cache,
  no Python arrays).
- `decode` writes the token and its position, invokes, and copies back the
  one slot `[:, :, index, :]` it wrote from each output cache to the input
  cache: the signature's outputs equal its inputs except at `cache_index`
  (lm_bundle.py: a DYNAMIC_UPDATE_SLICE at that position), so the inputs
  then hold the updated caches. Per token that is 2 x layers copies of
  `N x H` floats (3 KB each at GPT-2 small) instead of 19 MB.

Nothing in the file changes: the signatures, their names and the LiteRT-LM
bundle's `kv_cache_*` convention stay as they are. TFLite keeps graph inputs
alive across invocations (its arena planner never reuses an input's
memory), which is what lets the caches stay in the decode inputs; the tests
compare tokens and caches with the copying loop.

This uses the interpreter wrapper's per-subgraph calls (`Invoke`,
`SetTensor`, `GetTensor`, `tensor` with a subgraph index), the same ones
`ai_edge_litert`'s own `SignatureRunner` makes; the wrapper is the
interpreter's `_interpreter` attribute (ai-edge-litert 2.3.0).
"""

import numpy as np

from kerasnlp_lite.export.format import DECODE, PREFILL


class BoundDecoder:
    """The `prefill` / `decode` signatures of one interpreter, with the caches kept in `decode`'s input tensors.

    Args:
        interpreter: an `ai_edge_litert` `Interpreter` holding a generation
            bundle (`export_causal_lm`).
        cache_names: the cache input/output names (`format.cache_names`).
        max_length: L; the cache axis of that size is the one `decode`
            writes at `cache_index`.

    Raises:
        ValueError: when the interpreter lacks the signatures or a cache
            name, or a cache has no axis of size `max_length`.
    """

    def __init__(self, interpreter, cache_names, max_length):
        self._base = interpreter
        self._wrapper = interpreter._interpreter  # ai_edge_litert's own SignatureRunner uses it the same way
        signatures = interpreter._get_full_signature_list()
        for name in (PREFILL, DECODE):
            if name not in signatures:
                raise ValueError(f"The model has no {name!r} signature; it has {sorted(signatures)}.")
        self._prefill = signatures[PREFILL]
        self._decode = signatures[DECODE]
        self._prefill_graph = self._wrapper.GetSubgraphIndexFromSignature(PREFILL)
        self._decode_graph = self._wrapper.GetSubgraphIndexFromSignature(DECODE)
        self.cache_names = list(cache_names)
        for name in self.cache_names:
            if name not in self._decode["inputs"] or name not in self._decode["outputs"]:
                raise ValueError(f"The decode signature has no cache {name!r}.")
        # Both subgraphs keep static shapes: allocate once, so the views below stay valid.
        self._wrapper.AllocateTensors(self._prefill_graph)
        self._wrapper.AllocateTensors(self._decode_graph)
        shape = self._view(self._decode["inputs"][self.cache_names[0]], self._decode_graph).shape
        if list(shape).count(max_length) != 1:
            raise ValueError(
                f"Cache {self.cache_names[0]!r} has shape {list(shape)}: no single axis of size {max_length}."
            )
        self._axis = list(shape).index(max_length)

    def _view(self, tensor_index, graph):
        # A numpy view of the tensor's memory: held only within one call (LiteRT may move it on reallocation).
        return self._wrapper.tensor(self._wrapper, tensor_index, graph)

    def prefill(self, token_ids, length):
        """Runs `prefill` and leaves its caches in `decode`'s inputs.

        Args:
            token_ids: int32 `[1, L]`, the right-padded prompt.
            length: int32 `[1]`, the prompt length.

        Returns:
            float32 logits `[V]` of position `length - 1` (a copy).
        """
        inputs, graph = self._prefill["inputs"], self._prefill_graph
        self._wrapper.SetTensor(inputs["token_ids"], np.asarray(token_ids, np.int32), graph)
        self._wrapper.SetTensor(inputs["length"], np.asarray(length, np.int32), graph)
        self._wrapper.Invoke(graph)
        for name in self.cache_names:
            target = self._view(self._decode["inputs"][name], self._decode_graph)
            np.copyto(target, self._view(self._prefill["outputs"][name], graph))
        return self._wrapper.GetTensor(self._prefill["outputs"]["logits"], graph)[0]

    def decode(self, token, index):
        """Feeds `token` at position `index`; returns float32 logits `[V]` (a copy) and keeps the updated caches.

        The caller keeps `0 <= index < L` and calls `prefill` first (LiteRunner
        does both).
        """
        inputs, outputs, graph = self._decode["inputs"], self._decode["outputs"], self._decode_graph
        self._wrapper.SetTensor(inputs["token_id"], np.array([[token]], np.int32), graph)
        self._wrapper.SetTensor(inputs["cache_index"], np.array([index], np.int32), graph)
        self._wrapper.Invoke(graph)
        slot = (slice(None),) * self._axis + (index,)
        for name in self.cache_names:
            target = self._view(inputs[name], graph)
            target[slot] = self._view(outputs[name], graph)[slot]
        return self._wrapper.GetTensor(outputs["logits"], graph)[0]

    def caches(self):
        """Copies of the caches `decode` will read next: name -> float32 array (for checks)."""
        inputs, graph = self._decode["inputs"], self._decode_graph
        return {name: np.array(self._view(inputs[name], graph)) for name in self.cache_names}
