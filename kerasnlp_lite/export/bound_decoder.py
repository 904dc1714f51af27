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

import contextlib
import os
import re
import sys
import tempfile

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


# LiteRT's runtime log lines ("INFO: [environment.cc:36] ...", "WARNING: [compiler_plugin.cc:312] ...") and
# their continuation lines ("└ ...").
_LITERT_LOG_LINE = re.compile(r"^(?:(?:INFO|WARNING|VERBOSE): \[[\w./-]+:\d+\]|└ )")


@contextlib.contextmanager
def _native_logs_held():
    """Drops LiteRT's own log lines written to file descriptor 2 inside the block (all of them if it raises).

    LiteRT's runtime logs INFO lines there while it sets up (accelerator registration, vendor libraries it
    looked for), with no Python switch to turn them off. Every other line written meanwhile (another thread's,
    an ERROR) is passed on after the block, so nothing else is lost.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = lines if failed else [line for line in lines if not _LITERT_LOG_LINE.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _quiet_environment():
    """A LiteRT `Environment` for the CPU only.

    The default one searches `ai_edge_litert/vendors/` for NPU compiler plugins and dispatch libraries and
    logs an error for each vendor library it cannot load (OpenVINO, ...); pointing both paths at an empty
    folder skips that search. One per process.
    """
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import ai_edge_litert
        from ai_edge_litert.environment import Environment, EnvironmentOptions

        empty = tempfile.mkdtemp(prefix="litert_no_vendors_")
        _ENVIRONMENT = Environment.create(options=EnvironmentOptions(
            runtime_path=os.path.dirname(os.path.abspath(ai_edge_litert.__file__)),
            compiler_plugin_path=empty, dispatch_library_path=empty))
    return _ENVIRONMENT


_ENVIRONMENT = None


class CompiledDecoder:
    """The `prefill` / `decode` signatures run by LiteRT's `CompiledModel`, the caches in buffers this object owns.

    Each cache is one `TensorBuffer`, bound as `prefill`'s output and as `decode`'s input *and* output:
    `prefill` writes the caches where `decode` reads them, and `decode`'s DYNAMIC_UPDATE_SLICE, whose
    operand and result are then the same memory, writes only the new slot instead of copying the whole
    cache (TFLite's kernel skips the copy when they alias; about 19 MB per token at the GPT-2-small shape,
    ~1 ms of a 12 ms int8 step). This is how LiteRT-LM and an app's own loop hold the caches
    ("buffers the caller owns"); `BoundDecoder` is `LiteRunner`'s fallback for a file `CompiledModel`
    refuses (our bundles with tf-text ops in their text signatures load: prefill/decode do not use them).
    The runtime holds its own copy of the packed weights, beside the runner's interpreter.

    Args and raises: as `BoundDecoder`, with the file's bytes instead of an interpreter (`content`).
    """

    def __init__(self, content, cache_names, max_length, num_threads=1):
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.cpu_options import CpuOptions
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import Options

        self._content = content  # CompiledModel may read the bytes in place: keep them alive
        options = Options(hardware_accelerators=HardwareAccelerator.CPU, cpu_options=CpuOptions(num_threads=num_threads))
        with _native_logs_held():
            self._model = CompiledModel.from_buffer(bytes(content), environment=_quiet_environment(), options=options)
        signatures = self._model.get_signature_list()
        for name in (PREFILL, DECODE):
            if name not in signatures:
                raise ValueError(f"The model has no {name!r} signature; it has {sorted(signatures)}.")
        self.cache_names = list(cache_names)
        for name in self.cache_names:
            if name not in signatures[DECODE]["inputs"] or name not in signatures[DECODE]["outputs"]:
                raise ValueError(f"The decode signature has no cache {name!r}.")
        details = self._model.get_input_tensor_details(DECODE)
        shape = list(details[self.cache_names[0]]["shape"])
        if shape.count(max_length) != 1:
            raise ValueError(f"Cache {self.cache_names[0]!r} has shape {shape}: no single axis of size {max_length}.")
        self._cache_shape = shape
        self._cache_size = int(np.prod(shape))
        self._caches = {name: self._model.create_input_buffer_by_name(DECODE, name) for name in self.cache_names}
        self._prefill_in = {name: self._model.create_input_buffer_by_name(PREFILL, name)
                            for name in signatures[PREFILL]["inputs"]}
        self._prefill_out = dict(self._caches, logits=self._model.create_output_buffer_by_name(PREFILL, "logits"))
        self._decode_in = dict(self._caches, token_id=self._model.create_input_buffer_by_name(DECODE, "token_id"),
                               cache_index=self._model.create_input_buffer_by_name(DECODE, "cache_index"))
        self._decode_out = dict(self._caches, logits=self._model.create_output_buffer_by_name(DECODE, "logits"))
        self._vocabulary_size = int(self._model.get_output_tensor_details(DECODE)["logits"]["shape"][-1])
        self._ran = False

    def prefill(self, token_ids, length):
        """As `BoundDecoder.prefill`."""
        # The first run sets up more of the runtime (and logs it).
        with _native_logs_held() if not self._ran else contextlib.nullcontext():
            self._prefill_in["token_ids"].write(np.asarray(token_ids, np.int32))
            self._prefill_in["length"].write(np.asarray(length, np.int32))
            self._model.run_by_name(PREFILL, self._prefill_in, self._prefill_out)
            logits = self._logits(self._prefill_out["logits"])
        self._ran = True
        return logits

    def decode(self, token, index):
        """As `BoundDecoder.decode`."""
        self._decode_in["token_id"].write(np.array([[token]], np.int32))
        self._decode_in["cache_index"].write(np.array([index], np.int32))
        self._model.run_by_name(DECODE, self._decode_in, self._decode_out)
        return self._logits(self._decode_out["logits"])

    def _logits(self, buffer):
        # Logits of the last position: [1, V] (or [1, 1, V]), read as a flat float32 array.
        return buffer.read(self._vocabulary_size, np.float32)

    def caches(self):
        """As `BoundDecoder.caches`."""
        return {name: buffer.read(self._cache_size, np.float32).reshape(self._cache_shape)
                for name, buffer in self._caches.items()}
