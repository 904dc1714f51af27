"""`LiteRunner`: runs an exported `.tflite` model with `ai_edge_litert`, as an app would.

Registers tf-text's custom ops (tokenizers) when the file has any, checks
inputs against the signatures with messages that say what to change, and
offers task helpers:

- `generate(text_or_ids, max_new_tokens, ...)` for a generation bundle
  (`kerasnlp_lite.export.lm_bundle`): greedy or top-k, through the single
  `generate` signature or a Python loop over `prefill` / `decode`; greedy
  tokens are the same both ways and equal `CausalLM.generate`'s.
- `classify(texts)` / `embed(texts)` for string-in encoder exports
  (`export_tflite`, kerasnlp_lite.export.encoder_archive): signature `classify` (input `text`, a string
  `[]` or `[1]`, output `logits`) and `embed` (input `text`, output
  `embeddings`), batch size 1, so texts run one at a time.
"""

import math
import os

import numpy as np

from kerasnlp_lite.export.bound_decoder import BoundDecoder, CompiledDecoder
from kerasnlp_lite.export.format import (
    DECODE,
    DETOKENIZE,
    GENERATE,
    PREFILL,
    TOKENIZE,
    WH_MODULI,
    WH_MULTIPLIERS,
    cache_names,
    check_checksum,
    read_metadata,
)
from kerasnlp_lite.export.input_checks import check_input_values, check_token_ids, input_limits
from kerasnlp_lite.export.tflite import check_no_flex_ops, make_interpreter, tflite_op_names
from kerasnlp_lite.generation.decode import as_text
from kerasnlp_lite.utils.validation import check_stop_token_ids, is_int, is_number

_DTYPE_KINDS = {"i": "integer", "u": "integer", "f": "float", "b": "bool", "S": "string", "O": "string", "U": "string"}


# On-device top-k sampling, replayed in numpy for `generate(..., use_generate_signature=False)`. This is an
# exact mirror of `_seed_state` / `_next_uniform` / `_sample` in bundle_signatures.py, which run inside the
# file's `generate` signature: same seed, same tokens. Change one, change the other
# (`test_top_k_is_valid_and_reproducible` in tests/export/test_generation_export.py checks both agree). The
# Keras samplers (kerasnlp_lite/generation/samplers.py, `TopKSampler`) are the third implementation: the
# same distribution from TF's random ops, not the same draws.
class _WichmannHill:
    """numpy mirror of `bundle_signatures._seed_state` / `_next_uniform` (same float32 arithmetic)."""

    def __init__(self, seed):
        m0, m1 = WH_MODULI[0] - 1, WH_MODULI[1] - 1
        parts = np.array([seed, seed // m0, seed // (m0 * m1)], np.int64)
        self.state = (np.mod(parts, np.array(WH_MODULI) - 1) + 1).astype(np.int64)

    def uniform(self):
        self.state = np.mod(self.state * np.array(WH_MULTIPLIERS), np.array(WH_MODULI))
        parts = self.state.astype(np.float32) / np.array(WH_MODULI, np.float32)
        total = np.float32(parts[0] + parts[1]) + parts[2]  # the order TF's reduce_sum adds in
        return np.float32(total - np.floor(total))


def _sample(logits, top_k, temperature, rng):
    """numpy mirror of `bundle_signatures._sample` for one row of logits `[V]`."""
    greedy = int(np.argmax(logits))
    u = rng.uniform()  # advanced every step, as in the graph
    if top_k <= 1:
        return greedy
    order = np.argsort(-logits, kind="stable")[:top_k]
    values = logits[order].astype(np.float32)
    weights = np.exp((values - values[0]) / np.float32(temperature)).astype(np.float32)
    cdf = np.cumsum(weights, dtype=np.float32)
    choice = min(int(np.sum(cdf <= u * cdf[-1])), top_k - 1)
    return int(order[choice])


class LiteRunner:
    """Runs any exported TFLite model (file path or bytes) with `ai_edge_litert`.

    Args:
        path_or_bytes: the `.tflite` path, or its bytes.
        num_threads: interpreter threads (1 is what the latencies in the
            notes are measured with).
        verify_checksum: check the weights against the checksum the export
            stamped, when the file has one (one sha256 pass over the weights:
            0.9 s of a 3.4 s load for 400 MB measured, `benchmarks/checksum_cost.py`).

    Raises:
        FlexOpError: when the file needs Flex ops (LiteRT 2.x cannot run them).
        ValueError: no file at the path, or bytes that are not a TFLite model
            (random bytes, a truncated file): the message names the path and
            gives LiteRT's own reason; or weights that do not match the
            checksum the export stamped (`format.stamp_checksum`: a damaged
            or modified file).
    """

    def __init__(self, path_or_bytes, num_threads=1, verify_checksum=True):
        if isinstance(path_or_bytes, (bytes, bytearray)):
            content = bytes(path_or_bytes)
            source = f"The given {len(content)} bytes"
        else:
            path = os.fspath(path_or_bytes)
            if not os.path.isfile(path):
                raise ValueError(f"No TFLite file at {path!r}.")
            with open(path, "rb") as f:
                content = f.read()
            source = f"{path!r} ({len(content)} bytes)"
        self.ops, self.metadata = _read_model(content, source)
        # The stamped checksum (None for files without one), verified unless asked not to.
        self.weights_checksum = check_checksum(content, source) if verify_checksum else None
        self.custom_ops = sorted({op for op in self.ops if not op.isupper()})
        check_no_flex_ops(self.ops, "The model")
        self.num_threads = num_threads
        try:
            self._interpreter = make_interpreter(
                model_content=content, num_threads=num_threads, tftext_ops=bool(self.custom_ops)
            )
        except ValueError as error:  # LiteRT's flatbuffer verifier
            raise ValueError(f"{source} is not a TFLite model LiteRT can load: {error}") from None
        self._runners = {}
        self._signatures = {}
        for name in self._interpreter.get_signature_list():
            runner = self._interpreter.get_signature_runner(name)
            self._runners[name] = runner
            describe = lambda details: {  # noqa: E731
                key: {"shape": [int(d) for d in value["shape_signature"]], "dtype": np.dtype(value["dtype"]).name}
                for key, value in details.items()
            }
            self._signatures[name] = {
                "inputs": describe(runner.get_input_details()),
                "outputs": describe(runner.get_output_details()),
            }
        self._input_details = {name: r.get_input_details() for name, r in self._runners.items()}
        self._limits = input_limits(self._signatures, self.metadata, self.custom_ops)
        self._content = content  # also held by the interpreter; CompiledDecoder reads it
        self._bound = None  # the step-wise loop's decoder (`_step_decoder`), made by its first `generate`
        self.step_decoder = None  # its class name once made
        self.step_decoder_fallback_reason = None

    @property
    def signatures(self):
        """name -> {"inputs": {name: {"shape", "dtype"}}, "outputs": ...}; -1 marks a dynamic size."""
        return {name: {k: dict(v) for k, v in sig.items()} for name, sig in self._signatures.items()}

    # --- raw signatures -------------------------------------------------------
    def run(self, signature, **inputs):
        """Runs one signature; returns a dict of numpy outputs.

        Raises:
            ValueError: an unknown signature (the message lists the file's),
                missing or extra inputs, an input of the wrong shape or
                dtype (the message gives the expected ones), or a value the
                kernels would misread (`input_checks`: token ids outside
                [0, V), lengths, sampling settings, invalid UTF-8 text).
        """
        if signature not in self._runners:
            raise ValueError(
                f"Unknown signature {signature!r}: this model has signatures {sorted(self._runners)}. "
                "Pass one of them, or re-export the model with the one you need."
            )
        expected = self._signatures[signature]["inputs"]
        if set(inputs) != set(expected):
            raise ValueError(
                f"Signature {signature!r} takes inputs {_describe(expected)}; got {sorted(inputs)} "
                f"(missing {sorted(set(expected) - set(inputs))}, unexpected {sorted(set(inputs) - set(expected))})."
            )
        feed = {name: self._check_input(signature, name, value, expected[name]) for name, value in inputs.items()}
        if signature == DECODE and "cache_index" in feed:
            # Out of range, the kernel fails with "Invalid begin and size" in a SLICE node.
            index, length = int(feed["cache_index"].reshape(-1)[0]), self.max_length
            if not 0 <= index < length:
                raise ValueError(
                    f"`cache_index` {index} is outside [0, {length}) (the exported max_length): stop decoding "
                    "there or re-export with a larger `max_length`."
                )
        check_input_values(signature, feed, self._limits)
        return self._runners[signature](**feed)

    def _check_input(self, signature, name, value, spec):
        want = np.dtype(spec["dtype"])
        if want.kind in "SO":
            # LiteRT needs bytes (numpy "S"): unicode arrays silently give garbage.
            array = np.asarray(value.encode("utf-8") if isinstance(value, str) else value)
            if array.dtype.kind == "U":
                array = np.char.encode(array, "utf-8")
        else:
            array = np.asarray(value)
        if want.kind in "SO" and array.dtype.kind == "S" and np.any(np.char.str_len(array) == 0):
            # Measured: ai_edge_litert sends b"" (numpy dtype S1) as one NUL byte, which tokenizes to ids.
            raise ValueError(
                f"Input {name!r} of signature {signature!r} holds an empty string, which LiteRT's Python binding "
                "passes as one NUL byte: give non-empty text."
            )
        kind, want_kind = _DTYPE_KINDS.get(array.dtype.kind), _DTYPE_KINDS.get(want.kind)
        shape = list(spec["shape"])
        shape_ok = len(array.shape) == len(shape) and all(s == -1 or s == a for s, a in zip(shape, array.shape))
        if kind != want_kind or not shape_ok:
            raise ValueError(
                f"Input {name!r} of signature {signature!r} must be {want.name} of shape {shape} (-1: any size), "
                f"got {array.dtype.name} of shape {list(array.shape)}."
            )
        if want.kind in "iu" and array.size and (array.min() < np.iinfo(want).min or array.max() > np.iinfo(want).max):
            raise ValueError(  # astype would wrap them silently
                f"Input {name!r} of signature {signature!r} holds values outside the {want.name} range, got "
                f"[{array.min()}, {array.max()}]."
            )
        return array if want.kind in "SO" else array.astype(want)

    # --- text -----------------------------------------------------------------
    def tokenize(self, text):
        """One string -> int32 ids `[T]` through the file's `tokenize` signature ("" gives no ids)."""
        if text in ("", b""):
            self._require(TOKENIZE)
            return np.zeros([0], np.int32)  # see `_check_input`: b"" cannot reach the model intact
        return self.run(TOKENIZE, text=text)["token_ids"]

    def detokenize(self, token_ids):
        """int ids `[T]` -> str through the file's `detokenize` signature."""
        text = self.run(DETOKENIZE, token_ids=np.asarray(token_ids, np.int32).reshape(-1))["text"]
        return as_text(text)

    # --- generation -----------------------------------------------------------
    @property
    def max_length(self):
        """L, the exported maximum sequence length (prompt + generated)."""
        self._require(PREFILL)
        return int(self._signatures[PREFILL]["inputs"]["token_ids"]["shape"][1])

    def generate(
        self,
        text_or_ids,
        max_new_tokens,
        sampler="greedy",
        k=None,
        temperature=1.0,
        seed=0,
        stop_token_ids=None,
        use_generate_signature=True,
    ):
        """Continues a prompt by at most `max_new_tokens` tokens.

        Args:
            text_or_ids: a string (needs the `tokenize`/`detokenize`
                signatures) or a list / 1-D array of token ids.
            max_new_tokens: tokens to generate; prompt + max_new_tokens must
                be <= the exported `max_length`.
            sampler: "greedy" or "top_k".
            k: for "top_k", sample among the k best (<= the exported
                `max_top_k` with the generate signature).
            temperature: divides the logits before top-k sampling: a
                number > 0 (checked for every sampler, as Keras' samplers do).
            seed: int in [0, 2**31), for "top_k": same seed, same tokens.
            stop_token_ids: ids that end generation, each in [0, V) (the stop
                token is kept in the returned ids, left out of returned text).
            use_generate_signature: one call of the `generate` signature
                (builtin WHILE); False: a Python loop over `prefill` and
                `decode` (the same tokens, greedy and top-k), run on LiteRT's
                `CompiledModel` with the caches bound in place
                (`CompiledDecoder`): the faster path on CPU (GPT-2 small,
                int8, 1 thread: 11.1 vs 16.5 ms per token,
                benchmarks/results/latest.json).

        Returns:
            For a string: the detokenized prompt + continuation (str). For
            ids: int32 `[prompt + generated]` ids.
        """
        self._require(PREFILL, DECODE)
        is_text = isinstance(text_or_ids, (str, bytes))
        prompt = self.tokenize(text_or_ids) if is_text else np.asarray(text_or_ids)
        if prompt.ndim != 1 or (prompt.size and prompt.dtype.kind not in "iu"):
            raise ValueError(f"`text_or_ids` must be a string or a 1-D list of int ids, got shape {prompt.shape}.")
        check_token_ids(prompt, self._limits["vocabulary_size"], "`text_or_ids`")  # before int32 could wrap them
        prompt = prompt.astype(np.int32)
        n, max_length = int(prompt.size), self.max_length
        if n == 0:
            raise ValueError("The prompt is empty (no tokens): give at least one token.")
        if not is_int(max_new_tokens) or max_new_tokens < 1:
            raise ValueError(f"`max_new_tokens` must be an int >= 1, got {max_new_tokens!r}.")
        if n + max_new_tokens > max_length:
            raise ValueError(
                f"The prompt ({n} tokens) + max_new_tokens ({max_new_tokens}) exceeds the exported max_length="
                f"{max_length}: shorten the prompt, lower `max_new_tokens` to at most {max(max_length - n, 0)}, "
                "or re-export with a larger `max_length`."
            )
        top_k = self._check_sampler(sampler, k, temperature, seed, use_generate_signature)
        stops = check_stop_token_ids(stop_token_ids, self._limits["vocabulary_size"])
        if use_generate_signature:
            ids = self._generate_signature(prompt, max_new_tokens, top_k, temperature, seed, stops)
        else:
            ids = self._generate_loop(prompt, max_new_tokens, top_k, temperature, seed, stops)
        if not is_text:
            return ids
        return self.detokenize([t for t in ids.tolist() if t not in stops])

    def _check_sampler(self, sampler, k, temperature, seed, use_generate_signature):
        if sampler not in ("greedy", "top_k"):
            raise ValueError(f"`sampler` must be 'greedy' or 'top_k', got {sampler!r}.")
        if use_generate_signature:
            self._require(GENERATE)
        if not is_number(temperature) or not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"`temperature` must be a finite number > 0, got {temperature!r}.")
        if sampler == "greedy":
            return 1
        vocabulary_size = self._signatures[PREFILL]["outputs"]["logits"]["shape"][-1]
        limit = self.metadata.get("max_top_k", vocabulary_size) if use_generate_signature else vocabulary_size
        if not is_int(k) or not 1 <= k <= limit:
            raise ValueError(
                f"`k` must be an int in [1, {limit}] for sampler 'top_k'"
                + (" (the exported `max_top_k`; re-export with a larger one)" if use_generate_signature else "")
                + f", got {k!r}."
            )
        if not is_int(seed) or not 0 <= seed < 2**31:
            raise ValueError(f"`seed` must be an int in [0, 2**31), got {seed!r}.")
        return int(k)

    def _generate_signature(self, prompt, max_new_tokens, top_k, temperature, seed, stops):
        slots = self._signatures[GENERATE]["inputs"]["stop_token_ids"]["shape"][1]
        if len(stops) > slots:
            raise ValueError(
                f"The generate signature takes at most {slots} stop tokens, got {len(stops)}: pass fewer, use "
                "`use_generate_signature=False`, or re-export with a larger `max_stop_tokens`."
            )
        out = self.run(
            GENERATE,
            token_ids=self._padded(prompt),
            length=np.array([prompt.size], np.int32),
            max_new_tokens=np.array([max_new_tokens], np.int32),
            stop_token_ids=np.array([list(stops) + [-1] * (slots - len(stops))], np.int32),
            top_k=np.array([top_k], np.int32),
            temperature=np.array([temperature], np.float32),
            seed=np.array([seed], np.int32),
        )
        return out["token_ids"][0, : int(out["length"][0])].astype(np.int32)

    def _generate_loop(self, prompt, max_new_tokens, top_k, temperature, seed, stops):
        # The caches never cross into Python (bound_decoder.py): copying them every token made this loop about
        # 2x slower than the `generate` signature.
        if self._bound is None:
            self._bound = self._step_decoder()
        n = prompt.size
        logits = self._bound.prefill(self._padded(prompt), np.array([n], np.int32))
        rng = _WichmannHill(int(seed))
        generated = []
        for step in range(max_new_tokens):
            token = _sample(logits, top_k, temperature, rng)
            generated.append(token)
            if token in stops or step == max_new_tokens - 1:
                break
            logits = self._bound.decode(token, n + step)
        return np.concatenate([prompt, np.array(generated, np.int32)])

    def _step_decoder(self):
        """The loop's prefill/decode driver: `CompiledDecoder` (caches in buffers bound as decode's input and
        output, updated in place), or `BoundDecoder` (caches in the interpreter's input tensors, one slot copied
        back per token) where LiteRT's `CompiledModel` cannot load the file. Both give the same logits bit for
        bit (tests/export/test_generation_export.py); `step_decoder` says which one runs."""
        names = cache_names(sum(name.startswith("key_cache_") for name in self._signatures[DECODE]["inputs"]))
        try:
            decoder = CompiledDecoder(self._content, names, self.max_length, num_threads=self.num_threads)
        except RuntimeError as error:  # LiteRT's CompiledModel refused the file (e.g. an op it cannot resolve)
            self.step_decoder_fallback_reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            decoder = BoundDecoder(self._interpreter, names, self.max_length)
        self.step_decoder = type(decoder).__name__
        return decoder

    def _padded(self, prompt):
        ids = np.zeros((1, self.max_length), np.int32)
        ids[0, : prompt.size] = prompt
        return ids

    # --- encoder helpers --------------------------------------------------------
    def classify(self, texts):
        """Logits for each text: float `[len(texts), C]` (a single string gives `[C]`)."""
        return self._per_text("classify", "logits", texts)

    def embed(self, texts):
        """Embeddings for each text: float `[len(texts), D]` (a single string gives `[D]`)."""
        return self._per_text("embed", "embeddings", texts)

    def _per_text(self, signature, output, texts):
        self._require(signature)
        single = isinstance(texts, (str, bytes))
        rows = [texts] if single else list(texts)
        if not rows:
            raise ValueError(f"`texts` is empty: give at least one string to {signature}.")
        for text in rows:
            if not isinstance(text, (str, bytes)):
                raise TypeError(f"`texts` must be strings, got {type(text).__name__}.")
        # Exported at batch size 1 (the tf-text kernels' tested shape): one call per text, as a
        # scalar string or a [1] batch, whichever the signature declares.
        batched = len(self._signatures[signature]["inputs"].get("text", {}).get("shape", [])) == 1
        results = [
            np.asarray(self.run(signature, text=[text] if batched else text)[output]).reshape(-1) for text in rows
        ]
        stacked = np.stack(results)
        return stacked[0] if single else stacked

    def _require(self, *names):
        missing = [name for name in names if name not in self._runners]
        if missing:
            raise ValueError(
                f"This model has no {missing} signature(s); it has {sorted(self._runners)}. Re-export it with "
                "the signature (e.g. `export_causal_lm(..., generate_signature=True)` or a tokenizer)."
            )


def _read_model(content, source):
    """(op names, metadata) of TFLite bytes; ValueError naming `source`, with LiteRT's reason, for other bytes.

    Our flatbuffer reader trusts the offsets it reads: on bytes that are not a TFLite model it fails with
    struct.error or IndexError (or reads garbage), so the file identifier is checked first, and any failure is
    explained by LiteRT's own verifier.
    """
    if content[4:8] == b"TFL3":  # the flatbuffer file identifier of every TFLite model
        try:
            return tflite_op_names(content), read_metadata(content)
        except Exception as error:  # noqa: BLE001 (any failure of the reader means a damaged file)
            problem = f"{type(error).__name__}: {error}"
    else:
        problem = "no TFLite file identifier 'TFL3' at bytes 4-8"
    if not content:
        reason = "the file is empty"
    else:
        try:
            make_interpreter(model_content=content, tftext_ops=True)
            reason = f"LiteRT loads it, but its flatbuffer could not be read ({problem})"
        except (ValueError, RuntimeError) as error:
            reason = f"{error} ({problem})"
    raise ValueError(f"{source} is not a TFLite model: {reason}. Pass a .tflite file written by the exporter.")


def _describe(spec):
    return ", ".join(f"{name}: {value['dtype']} {value['shape']}" for name, value in sorted(spec.items()))
