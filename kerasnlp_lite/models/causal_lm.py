"""Causal language model: a GPT backbone with the tied LM head, training defaults and `generate`."""

import keras
import numpy as np
import tensorflow as tf

from kerasnlp_lite.generation.decode import (
    build_generate_function,
    check_generation_lengths,
    check_stop_token_ids,
    detokenize_rows,
    prepare_prompts,
)
from kerasnlp_lite.generation.samplers import get_sampler
from kerasnlp_lite.heads.causal_lm_head import CausalLMHead
from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.models.task import PaddedTokenLossMixin, Task, _is_text


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class CausalLM(PaddedTokenLossMixin, Task):
    """Next-token prediction with a decoder-only backbone (GPT-1 section 3.1, GPT-2).

    Inputs: the backbone's (`token_ids`, `padding_mask`). Output: float32
    logits `[B, T, V]` = h_n W_e^T through the tied token embedding, so
    P(u_{t+1} | u_{<=t}) = softmax(logits[:, t]).

    Training: `compile()` defaults to sparse cross-entropy from logits,
    averaged over real tokens only, and a perplexity metric. Labels are the
    next tokens (`kerasnlp_lite.data.causal_lm_examples` gives `token_ids`,
    `labels`, `padding_mask`); when `fit` gets no `sample_weight`, the
    inputs' `padding_mask` is used, so padding never counts.

    Args:
        backbone: a `GPTBackbone` (anything with `token_embedding`,
            `init_cache` and `call_with_cache`).
        preprocessor: optional; its `tokenizer` (or the preprocessor itself,
            if it is a tokenizer) turns string prompts into ids in `generate`.

    Example:
    >>> lm = CausalLM(GPTBackbone.from_preset("gpt2_small"))
    >>> lm.generate([[464, 2068], [464]], max_length=16, sampler="top_k", k=5, seed=1)["token_ids"]
    """

    def __init__(self, backbone, preprocessor=None, **kwargs):
        inputs = backbone.input
        head = CausalLMHead(backbone.token_embedding, dtype=backbone.dtype_policy, name="lm_head")
        logits = head(backbone(inputs)["sequence_output"])
        super().__init__(inputs=inputs, outputs=logits, backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.lm_head = head
        self._generate_functions = {}

    # --- cached decoding --------------------------------------------------
    def compute_logits(self, hidden):
        """float32 logits `[..., V]` of hidden states `[B, (T,) D]`."""
        return self.lm_head(hidden)

    def call_with_cache(self, token_ids, cache, cache_index):
        """`(logits [B, T, V], updated cache)`: see `GPTBackbone.call_with_cache`."""
        hidden, cache = self.backbone.call_with_cache(token_ids, cache, cache_index)
        return self.compute_logits(hidden), cache

    # --- generation -------------------------------------------------------
    def generate(
        self,
        prompts,
        max_length,
        sampler="greedy",
        stop_token_ids=None,
        padding_mask=None,
        seed=None,
        pad_id=0,
        use_cache=True,
        jit_compile=False,
        **sampler_kwargs,
    ):
        """Continues prompts up to `max_length` tokens (prompt included).

        Args:
            prompts: token ids (a list of id lists of any lengths, one id
                list, or an int array `[B, P]` with an optional right-padded
                `padding_mask`), or strings (one, or a list) when a
                preprocessor/tokenizer is attached. Batches are
                **right-padded**: see `kerasnlp_lite.generation.decode`.
            max_length: total length M of each output row; must exceed the
                longest prompt and be <= the backbone's max_sequence_length.
            sampler: "greedy", "random", "top_k", "top_p", "beam", or a
                `kerasnlp_lite.generation` sampler instance; its arguments
                (`k`, `p`, `temperature`, `num_beams`, `length_penalty`) as
                keyword arguments.
            stop_token_ids: ids that end a row: the stop token is kept, and
                the rest of the row is `pad_id` with `padding_mask` 0. The
                loop exits early once every row has stopped.
            seed: int seed of the random samplers (None: a fresh one).
            pad_id: id written after a row ends.
            use_cache: decode with the KV cache (True) or recompute the
                whole prefix at every step (False).
            jit_compile: compile the decode loop with XLA.

        Returns:
            For token ids: a dict of numpy arrays `token_ids` int32 `[B, M]`,
            `padding_mask` bool `[B, M]` (prompt + generated tokens), and
            `scores` `[B]` (log-probability of the generated tokens) with beam
            search. For strings: the detokenized prompt + continuation
            (stop tokens left out), a string or a list like the input.
        """
        sampler = get_sampler(sampler, **sampler_kwargs)
        sampler.check_vocabulary_size(self.backbone.vocabulary_size)
        stop_token_ids = check_stop_token_ids(stop_token_ids, self.backbone.vocabulary_size)
        single_text = isinstance(prompts, (str, bytes))
        is_text = _is_text(prompts)
        skip_ids = set(stop_token_ids)
        if is_text:
            tokenizer = self._tokenizer()
            texts = [prompts] if single_text else list(text_inputs.check_texts(prompts, "prompts"))
            if hasattr(self.preprocessor, "prompt_ids"):
                prompts = self.preprocessor.prompt_ids(texts)  # [start] + tokens, as in training
                if self.preprocessor.start_token_id is not None:
                    skip_ids.add(self.preprocessor.start_token_id)
            else:
                prompts = tokenizer.tokenize(tf.constant(texts)).to_list()  # ragged [B, None] -> id lists
        token_ids, mask = prepare_prompts(prompts, padding_mask)
        check_generation_lengths(max_length, token_ids.shape[1], self.backbone.max_sequence_length)
        key = (int(max_length), repr(sampler), stop_token_ids, int(pad_id), bool(use_cache), bool(jit_compile))
        if key not in self._generate_functions:
            self._generate_functions[key] = build_generate_function(
                self, int(max_length), sampler, stop_token_ids, int(pad_id), bool(use_cache), bool(jit_compile)
            )
        seed = np.random.randint(0, 2**31 - 1) if seed is None else seed
        outputs = self._generate_functions[key](
            tf.constant(token_ids), tf.constant(mask), tf.constant(int(seed), tf.int32)
        )
        outputs = {name: value.numpy() for name, value in outputs.items()}
        if not is_text:
            return outputs
        texts = detokenize_rows(tokenizer, outputs["token_ids"], outputs["padding_mask"], skip_ids)
        return texts[0] if single_text else texts

    def check_text_targets(self, y, sample_weight, n):
        if y is not None:
            raise ValueError("CausalLM makes its own labels (the next tokens of each text): pass texts as `x`, no `y`.")
        return None, text_inputs.check_aligned(sample_weight, n, "sample_weight")

    def _tokenizer(self):
        if self.preprocessor is None:
            raise ValueError("`generate` got strings but the CausalLM has no preprocessor; pass token ids.")
        tokenizer = getattr(self.preprocessor, "tokenizer", self.preprocessor)
        if not hasattr(tokenizer, "tokenize") or not hasattr(tokenizer, "detokenize"):
            raise ValueError(f"The preprocessor {self.preprocessor!r} has no tokenizer with tokenize/detokenize.")
        return tokenizer
