"""The decode loop: prefill once, then one token per step over a fixed-shape KV cache.

Shape legend: B = batch, K = beams, P = padded prompt width, M = max_length
(prompt + generated tokens), V = vocabulary, D = hidden_dim.

Prompts are **right-padded**: row b holds its prompt in `[0, length_b)`,
and generation writes position `length_b` onwards. Decoding starts at the
shortest prompt's end; at positions where a longer row still has prompt
tokens, the prompt token is kept instead of the sampled one (KerasHub's
scheme). Right padding keeps every token at its true position in the
learned position table, which left padding would shift.

The whole loop is one `tf.function` (`jit_compile=True` compiles it with XLA):
every loop variable has a static shape (token buffer `[B, M]`, per-layer
K/V caches `[B, N, M, H]`), and the random samplers are stateless. Cache
updates are XLA's in-place DynamicUpdateSlice under `jit_compile`, and
TensorFlow's scatter otherwise (`kerasnlp_lite.layers.kv_cache`); prompt
widths are padded to buckets (`PromptBuckets`) so that nearby prompt lengths
reuse one trace. The uncached path recomputes the whole prefix at every step
(for equality checks and the benchmark).

Measured (GPT-2-small shape, batch 1, float32, 2 cores): without XLA a
decode step is bound by reading the weights (~500 MB per token, ~10 GB/s per
busy core in TensorFlow's matrix-vector products); with `jit_compile=True`
the loop is *slower* at that shape (XLA's CPU dot is slower on these
matrix-vector products) but several times faster on toy shapes, where op
overhead dominates. `benchmarks/generation.py` times both against KerasHub.

`model` is duck-typed (a `CausalLM`): `model.backbone` with `init_cache`,
`call_with_cache` and a functional call returning `sequence_output`, and
`model.compute_logits(hidden)` -> float32 logits.
"""

import contextlib

import numpy as np
import tensorflow as tf

from kerasnlp_lite.generation.samplers import BeamSearch
from kerasnlp_lite.layers.kv_cache import native_cache_writes
from kerasnlp_lite.utils.validation import is_int

# Score of impossible beam candidates: finite, so sums never become NaN.
_NEG = -1e9


def prepare_prompts(prompts, padding_mask=None):
    """Token-id prompts -> right-padded `token_ids` int32 `[B, P]`, `padding_mask` bool `[B, P]`.

    Args:
        prompts: a list of int lists (lengths may differ), or an int array
            `[B, P]` (all full length unless `padding_mask` is given), or a
            single int list (one prompt).
        padding_mask: optional `[B, P]`, 1 at real tokens; must be
            right-padded (ones, then zeros) with at least one real token.
    """
    if isinstance(prompts, (list, tuple)) and prompts and all(np.ndim(p) == 0 for p in prompts):
        prompts = [list(prompts)]
    if isinstance(prompts, (list, tuple)) and padding_mask is None:
        rows = [np.asarray(p).reshape(-1) for p in prompts]
        if not rows:
            raise ValueError("`prompts` is empty.")
        width = max(len(r) for r in rows)
        token_ids = np.zeros((len(rows), width), "int32")
        mask = np.zeros((len(rows), width), bool)
        for b, row in enumerate(rows):
            if row.size and row.dtype.kind not in "iu":
                raise TypeError(f"`prompts[{b}]` must hold integer token ids, got dtype {row.dtype}.")
            if row.size and row.max() > np.iinfo(np.int32).max:  # int32 would wrap it
                raise ValueError(f"`prompts[{b}]` must hold int32 token ids, got {int(row.max())}.")
            token_ids[b, : len(row)] = row
            mask[b, : len(row)] = True
    else:
        token_ids = np.asarray(prompts)
        if token_ids.dtype.kind == "f":  # never truncate 1.7 to 1
            raise TypeError(f"`prompts` must hold integer token ids, got a {token_ids.dtype} array.")
        if token_ids.dtype.kind not in "iu" or token_ids.ndim != 2:
            raise ValueError(
                f"`prompts` must be int token ids [batch, length] or a list of id lists, got {token_ids.dtype} "
                f"array of shape {token_ids.shape}."
            )
        mask = np.ones(token_ids.shape, bool) if padding_mask is None else np.asarray(padding_mask).astype(bool)
        if mask.shape != token_ids.shape:
            raise ValueError(f"`padding_mask` shape {mask.shape} differs from the prompts' {token_ids.shape}.")
        if token_ids.size and token_ids.max() > np.iinfo(np.int32).max:  # int32 would wrap it
            raise ValueError(f"`prompts` must hold int32 token ids, got {int(token_ids.max())}.")
        token_ids = token_ids.astype("int32")
    lengths = mask.sum(axis=1)
    if np.any(lengths == 0):
        raise ValueError(f"Every prompt needs at least one token; empty rows: {np.flatnonzero(lengths == 0).tolist()}.")
    if not np.array_equal(mask, np.arange(mask.shape[1])[None] < lengths[:, None]):
        raise ValueError("Prompts must be right-padded: `padding_mask` must be ones followed by zeros in every row.")
    if np.any(token_ids[mask] < 0):
        # No vocabulary here to bound ids above; a negative id is wrong for every model.
        position = tuple(int(i) for i in np.argwhere(mask & (token_ids < 0))[0])
        raise ValueError(f"`prompts` must hold token ids >= 0, got {int(token_ids[position])} at index {position}.")
    width = int(lengths.max())  # drop all-padding columns
    return token_ids[:, :width], mask[:, :width]


def as_text(value):
    """A detokenizer's output (bytes, a scalar tensor or numpy array) -> str.

    A continuation can stop inside a multi-byte character (byte-level BPE emits
    single bytes): invalid bytes become U+FFFD, as HF tokenizers' decode does.
    """
    value = value.numpy() if hasattr(value, "numpy") else value
    value = value.item() if isinstance(value, np.ndarray) else value
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def detokenize_rows(tokenizer, token_ids, padding_mask, skip_ids=()):
    """Generated rows -> strings: the real tokens of each row (`padding_mask`), minus `skip_ids`
    (stop tokens, a decoder start token), detokenized and decoded with `as_text`."""
    skip = set(skip_ids)
    texts = []
    for ids, row_mask in zip(np.asarray(token_ids).tolist(), np.asarray(padding_mask).tolist()):
        row = [t for t, real in zip(ids, row_mask) if real and t not in skip]
        texts.append(as_text(tokenizer.detokenize(tf.constant(row, tf.int32))))
    return texts


def check_generation_lengths(max_length, prompt_width, max_sequence_length):
    if not is_int(max_length):
        raise ValueError(f"`max_length` must be an int, got {max_length!r}.")
    if max_length <= prompt_width:
        raise ValueError(
            f"`max_length`={max_length} is too small: it must exceed the longest prompt ({prompt_width} tokens) "
            "to leave room for generated tokens."
        )
    if max_length > max_sequence_length:
        raise ValueError(
            f"`max_length`={max_length} is larger than the model's max_sequence_length={max_sequence_length}."
        )


def _column(x, i):
    """`x[:, i]` for a rank-2 tensor and a scalar tensor index (XLA-friendly)."""
    return tf.gather(x, i, axis=1)


def _write_column(buffer, i, values):
    """buffer[..., i] = values, fixed shape: a select against a one-hot column.

    Not `slice_update`: outside XLA its XlaDynamicUpdateSlice is compiled on
    demand at every call; a select over the small `[B, (K,) M]` buffer costs
    next to nothing with or without XLA.
    """
    column = tf.range(tf.shape(buffer)[-1]) == i  # [M]
    return tf.where(column, tf.expand_dims(values, -1), buffer)


class _Steps:
    """Next-token logits for the loops, cached or recomputing the prefix."""

    def __init__(self, model, max_length, use_cache, jit_compile):
        self.model = model
        self.backbone = model.backbone
        self.max_length = max_length
        self.use_cache = use_cache
        self.jit_compile = jit_compile

    def _full_hidden(self, token_ids):
        # Right padding + causal attention: positions after t never affect t.
        inputs = {"token_ids": token_ids, "padding_mask": tf.ones_like(token_ids)}
        return self.backbone(inputs, training=False)["sequence_output"]

    def prefill(self, token_ids, start, batch_size):
        """Logits `[B, V]` for position `start` and the state (cache) after the prompt."""
        if not self.use_cache:
            hidden = self._full_hidden(token_ids)
            return self.model.compute_logits(tf.gather(hidden, start - 1, axis=1)), ()
        cache = self.backbone.init_cache(batch_size, self.max_length)
        hidden, cache = self.backbone.call_with_cache(token_ids, cache, 0)  # [B, P, D]
        return self.model.compute_logits(tf.gather(hidden, start - 1, axis=1)), cache

    def advance(self, state, buffer, token, i):
        """After writing `token` `[B]` at position `i` of `buffer`: logits for position i + 1."""
        if not self.use_cache:
            if self.jit_compile:
                # XLA needs static shapes: run the whole buffer, read position i.
                hidden = tf.gather(self._full_hidden(buffer), i, axis=1)
            else:
                hidden = self._full_hidden(buffer[:, : i + 1])[:, -1]
            return self.model.compute_logits(hidden), state
        hidden, state = self.backbone.call_with_cache(tf.expand_dims(token, 1), state, i)
        return self.model.compute_logits(hidden[:, 0]), state


def _is_stop(token, stop_token_ids):
    if not stop_token_ids:
        return tf.zeros_like(token, tf.bool)
    stops = tf.constant(stop_token_ids, tf.int32)
    return tf.reduce_any(tf.expand_dims(token, -1) == stops, axis=-1)


def sample_loop(steps, sampler, token_ids, padding_mask, seed, stop_token_ids, pad_token_id):
    """Greedy / random / top-k / top-p decoding. Returns (`token_ids` `[B, M]`, `padding_mask` `[B, M]`)."""
    max_length = steps.max_length
    batch_size, width = token_ids.shape[0], token_ids.shape[1]
    tail = [[0, 0], [0, max_length - width]]
    buffer = tf.pad(token_ids, tail, constant_values=pad_token_id)  # [B, M]
    prompt_mask = tf.pad(tf.cast(padding_mask, tf.int32), tail)  # [B, M], 1 at prompt tokens
    start = tf.reduce_min(tf.reduce_sum(prompt_mask, axis=1))
    next_logits, state = steps.prefill(token_ids, start, batch_size)

    def body(i, buffer, out_mask, done, next_logits, state):
        is_prompt = _column(prompt_mask, i) > 0
        sampled = sampler(next_logits, tf.stack([seed, i]))
        generated = tf.logical_and(tf.logical_not(is_prompt), tf.logical_not(done))
        token = tf.where(is_prompt, _column(buffer, i), tf.where(done, pad_token_id, sampled))
        buffer = _write_column(buffer, i, token)
        out_mask = _write_column(out_mask, i, tf.cast(tf.logical_or(is_prompt, generated), tf.int32))
        done = tf.logical_or(done, tf.logical_and(generated, _is_stop(token, stop_token_ids)))
        next_logits, state = steps.advance(state, buffer, token, i)
        return i + 1, buffer, out_mask, done, next_logits, state

    def cond(i, buffer, out_mask, done, next_logits, state):
        return tf.logical_and(i < max_length, tf.logical_not(tf.reduce_all(done)))

    done = tf.zeros([batch_size], tf.bool)
    _, buffer, out_mask, _, _, _ = tf.while_loop(cond, body, (start, buffer, prompt_mask, done, next_logits, state))
    return buffer, tf.cast(out_mask, tf.bool)


def beam_search_loop(steps, beam, token_ids, padding_mask, stop_token_ids, pad_token_id, vocabulary_size):
    """Beam search. Returns (`token_ids` `[B, M]`, `padding_mask` `[B, M]`, log-prob scores `[B]`)."""
    max_length, k, v = steps.max_length, beam.num_beams, vocabulary_size
    batch_size, width = token_ids.shape[0], token_ids.shape[1]
    tail = [[0, 0], [0, max_length - width]]
    prompt_ids = tf.pad(token_ids, tail, constant_values=pad_token_id)  # [B, M]
    prompt_mask = tf.pad(tf.cast(padding_mask, tf.int32), tail)  # [B, M]
    start = tf.reduce_min(tf.reduce_sum(prompt_mask, axis=1))
    next_logits, state = steps.prefill(token_ids, start, batch_size)
    # Every beam starts as a copy of its prompt: [B, ...] -> [B * K, ...].
    next_logits = tf.repeat(next_logits, k, axis=0)
    state = tf.nest.map_structure(lambda x: tf.repeat(x, k, axis=0), state)
    buffer = tf.repeat(prompt_ids[:, None], k, axis=1)  # [B, K, M]
    out_mask = tf.repeat(prompt_mask[:, None], k, axis=1)
    # Only beam 0 is alive at first, so the first expansion gives K distinct beams.
    scores = tf.tile(tf.constant([[0.0] + [_NEG] * (k - 1)]), [batch_size, 1])  # [B, K]
    pad_row = tf.where(tf.range(v) == pad_token_id, 0.0, _NEG)  # [V]: a finished beam only extends with padding

    def reorder(x, beams):  # x [B * K, ...] follows the chosen parent beams [B, K]
        shaped = tf.reshape(x, tf.concat([[batch_size, k], tf.shape(x)[1:]], 0))
        return tf.reshape(tf.gather(shaped, beams, axis=1, batch_dims=1), tf.shape(x))

    def body(i, buffer, out_mask, done, lengths, scores, next_logits, state):
        log_probs = tf.reshape(tf.nn.log_softmax(next_logits), [batch_size, k, v])
        is_prompt = _column(prompt_mask, i) > 0  # [B]
        forced = tf.where(tf.one_hot(_column(prompt_ids, i), v) > 0, 0.0, _NEG)  # [B, V]
        log_probs = tf.where(is_prompt[:, None, None], forced[:, None], log_probs)
        log_probs = tf.where(done[:, :, None], pad_row[None, None], log_probs)
        candidates = tf.reshape(scores[:, :, None] + log_probs, [batch_size, k * v])
        scores, chosen = tf.math.top_k(candidates, k=k)  # [B, K]
        parents, token = chosen // v, tf.cast(chosen % v, tf.int32)
        buffer = tf.gather(buffer, parents, axis=1, batch_dims=1)
        out_mask = tf.gather(out_mask, parents, axis=1, batch_dims=1)
        done = tf.gather(done, parents, axis=1, batch_dims=1)
        lengths = tf.gather(lengths, parents, axis=1, batch_dims=1)
        state = tf.nest.map_structure(lambda x: reorder(x, parents), state)
        generated = tf.logical_and(tf.logical_not(is_prompt)[:, None], tf.logical_not(done))  # [B, K]
        buffer = _write_column(buffer, i, token)
        out_mask = _write_column(out_mask, i, tf.cast(tf.logical_or(is_prompt[:, None], generated), tf.int32))
        lengths = lengths + tf.cast(generated, tf.int32)
        done = tf.logical_or(done, tf.logical_and(generated, _is_stop(token, stop_token_ids)))
        flat_buffer = tf.reshape(buffer, [batch_size * k, max_length])
        next_logits, state = steps.advance(state, flat_buffer, tf.reshape(token, [-1]), i)
        return i + 1, buffer, out_mask, done, lengths, scores, next_logits, state

    def cond(i, buffer, out_mask, done, lengths, scores, next_logits, state):
        return tf.logical_and(i < max_length, tf.logical_not(tf.reduce_all(done)))

    done = tf.zeros([batch_size, k], tf.bool)
    lengths = tf.zeros([batch_size, k], tf.int32)
    loop_vars = (start, buffer, out_mask, done, lengths, scores, next_logits, state)
    _, buffer, out_mask, _, lengths, scores, _, _ = tf.while_loop(cond, body, loop_vars)
    ranking = scores
    if beam.length_penalty:
        ranking = scores / tf.pow(tf.maximum(tf.cast(lengths, tf.float32), 1.0), beam.length_penalty)
    best = tf.argmax(ranking, axis=1, output_type=tf.int32)  # [B]
    pick = lambda x: tf.gather(x, best, axis=1, batch_dims=1)  # noqa: E731
    return pick(buffer), tf.cast(pick(out_mask), tf.bool), pick(scores)


def _cache_writes(jit_compile):
    """How the traced loop writes KV caches: XLA's in-place DynamicUpdateSlice under `jit_compile`,
    TensorFlow's scatter otherwise (cheaper outside XLA: see `kerasnlp_lite.layers.kv_cache`)."""
    return contextlib.nullcontext() if jit_compile else native_cache_writes()


# Prompt widths are padded up to a multiple of this (at most `max_length`), so
# that prompts of nearby lengths share one traced loop instead of one each.
PROMPT_WIDTH_BUCKET = 16


def bucket_width(width, max_length):
    """The padded prompt width: `width` rounded up to a multiple of `PROMPT_WIDTH_BUCKET`, at most `max_length`."""
    return min(-(-width // PROMPT_WIDTH_BUCKET) * PROMPT_WIDTH_BUCKET, max_length)


class PromptBuckets:
    """Calls a compiled loop `(token_ids [B, P], padding_mask [B, P], seed)` with P padded to `bucket_width`.

    Every new prompt width P would otherwise trace (and with XLA, compile) the
    whole loop again: seconds at the GPT-2-small shape. Extra columns are
    padding (mask 0) on the right, which the loops already handle: a row's
    tokens past its prompt are generated, and the prefill's extra cache slots
    are overwritten before any query can attend to them (causal mask). The
    cost is at most `PROMPT_WIDTH_BUCKET - 1` more prefill tokens.

    Attributes:
        function: the wrapped `tf.function` (its tracing count, concrete functions).
    """

    def __init__(self, function, max_length, pad_token_id):
        self.function = function
        self.max_length = max_length
        self.pad_token_id = pad_token_id

    def __call__(self, token_ids, padding_mask, seed):
        extra = bucket_width(int(token_ids.shape[1]), self.max_length) - int(token_ids.shape[1])
        if extra > 0:
            tail = [[0, 0], [0, extra]]
            token_ids = tf.pad(token_ids, tail, constant_values=self.pad_token_id)
            padding_mask = tf.pad(padding_mask, tail)
        return self.function(token_ids, padding_mask, seed)


def build_generate_function(model, max_length, sampler, stop_token_ids, pad_token_id, use_cache, jit_compile):
    """A compiled `(token_ids [B, P], padding_mask [B, P], seed) -> dict` for these settings
    (a `PromptBuckets` around one `tf.function`)."""
    steps = _Steps(model, max_length, use_cache, jit_compile)
    stop_token_ids = tuple(int(t) for t in stop_token_ids)

    def loop(token_ids, padding_mask, seed):
        if isinstance(sampler, BeamSearch):
            ids, mask, scores = beam_search_loop(
                steps, sampler, token_ids, padding_mask, stop_token_ids, pad_token_id, model.backbone.vocabulary_size
            )
            return {"token_ids": ids, "padding_mask": mask, "scores": scores}
        ids, mask = sample_loop(steps, sampler, token_ids, padding_mask, seed, stop_token_ids, pad_token_id)
        return {"token_ids": ids, "padding_mask": mask}

    @tf.function(jit_compile=jit_compile, reduce_retracing=False)
    def generate(token_ids, padding_mask, seed):
        with _cache_writes(jit_compile):
            return loop(token_ids, padding_mask, seed)

    return PromptBuckets(generate, max_length, pad_token_id)


class _Seq2SeqSteps(_Steps):
    """Next-token logits of an encoder-decoder: the encoder runs once in `prefill`.

    Cached: the state is the backbone's decoding cache (self-attention K/V,
    the cross-attention keys/values of the encoder output, computed once, and
    the encoder padding mask). Uncached: the state is the encoder output and
    mask, and every step reruns the decoder over the whole prefix. Beam search
    repeats and reorders the state like any other.
    """

    def __init__(self, model, max_length, use_cache, jit_compile, encoder_token_ids, encoder_padding_mask):
        super().__init__(model, max_length, use_cache, jit_compile)
        self.encoder_token_ids = encoder_token_ids
        self.encoder_padding_mask = encoder_padding_mask

    def _decode_full(self, token_ids, state):
        return self.backbone.decode(
            token_ids, tf.ones_like(token_ids), state["encoder_output"], state["encoder_padding_mask"]
        )

    def prefill(self, token_ids, start, batch_size):
        encoder_output = self.backbone.encode(self.encoder_token_ids, self.encoder_padding_mask)
        mask = tf.cast(self.encoder_padding_mask, tf.int32)
        if not self.use_cache:
            state = {"encoder_output": encoder_output, "encoder_padding_mask": mask}
            hidden = self._decode_full(token_ids, state)
            return self.model.compute_logits(tf.gather(hidden, start - 1, axis=1)), state
        cache = self.backbone.init_cache(encoder_output, mask, self.max_length)
        hidden, cache = self.backbone.call_with_cache(token_ids, cache, 0)
        return self.model.compute_logits(tf.gather(hidden, start - 1, axis=1)), cache

    def advance(self, state, buffer, token, i):
        if not self.use_cache:
            if self.jit_compile:
                hidden = tf.gather(self._decode_full(buffer, state), i, axis=1)
            else:
                hidden = self._decode_full(buffer[:, : i + 1], state)[:, -1]
            return self.model.compute_logits(hidden), state
        hidden, state = self.backbone.call_with_cache(tf.expand_dims(token, 1), state, i)
        return self.model.compute_logits(hidden[:, 0]), state


def build_seq2seq_generate_function(model, max_length, sampler, stop_token_ids, pad_token_id, use_cache, jit_compile):
    """A compiled `(encoder_token_ids [B, S], encoder_padding_mask [B, S], decoder_token_ids [B, P],
    decoder_padding_mask [B, P], seed) -> dict` for an encoder-decoder `model` (a `Seq2SeqLM`)."""
    stop_token_ids = tuple(int(t) for t in stop_token_ids)
    vocabulary_size = model.backbone.decoder_vocabulary_size

    def loop(encoder_token_ids, encoder_padding_mask, token_ids, padding_mask, seed):
        steps = _Seq2SeqSteps(model, max_length, use_cache, jit_compile, encoder_token_ids, encoder_padding_mask)
        if isinstance(sampler, BeamSearch):
            ids, mask, scores = beam_search_loop(
                steps, sampler, token_ids, padding_mask, stop_token_ids, pad_token_id, vocabulary_size
            )
            return {"token_ids": ids, "padding_mask": mask, "scores": scores}
        ids, mask = sample_loop(steps, sampler, token_ids, padding_mask, seed, stop_token_ids, pad_token_id)
        return {"token_ids": ids, "padding_mask": mask}

    @tf.function(jit_compile=jit_compile, reduce_retracing=False)
    def generate(encoder_token_ids, encoder_padding_mask, token_ids, padding_mask, seed):
        with _cache_writes(jit_compile):
            return loop(encoder_token_ids, encoder_padding_mask, token_ids, padding_mask, seed)

    return generate
