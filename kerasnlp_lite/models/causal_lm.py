"""Causal language model: a GPT backbone with the tied LM head, training defaults and `generate`."""

import keras
import tensorflow as tf

from kerasnlp_lite.generation.decode import build_generate_function, check_generation_lengths, prepare_prompts
from kerasnlp_lite.heads.causal_lm_head import CausalLMHead
from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.models.generative_task import GenerativeTask
from kerasnlp_lite.utils.validation import check_backbone_kind, check_id_array


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class CausalLM(GenerativeTask):
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
        # An encoder (BERT) would build, then attend both ways and fail only in generate.
        check_backbone_kind(
            backbone, "CausalLM", "a decoder-only backbone (GPT)", ["sequence_output"],
            ["token_embedding", "init_cache", "call_with_cache"],
        )
        inputs = backbone.input
        head = CausalLMHead(backbone.token_embedding, dtype=backbone.dtype_policy, name="lm_head")
        logits = head(backbone(inputs)["sequence_output"])
        super().__init__(inputs=inputs, outputs=logits, backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.lm_head = head

    # --- cached decoding --------------------------------------------------
    def compute_logits(self, hidden):
        """float32 logits `[..., V]` of hidden states `[B, (T,) D]`."""
        return self.lm_head(hidden)

    def call_with_cache(self, token_ids, cache, cache_index):
        """`(logits [B, T, V], updated cache)`: see `GPTBackbone.call_with_cache`."""
        hidden, cache = self.backbone.call_with_cache(token_ids, cache, cache_index)
        return self.compute_logits(hidden), cache

    # --- generation: the steps of `GenerativeTask.run_generate` ---------------
    DECODE_FUNCTION = staticmethod(build_generate_function)

    def generate(
        self,
        prompts,
        max_length,
        sampler="greedy",
        stop_token_ids="auto",
        padding_mask=None,
        seed=None,
        pad_token_id=0,
        use_cache=True,
        jit_compile=False,
        **sampler_kwargs,
    ):
        """Continues prompts up to `max_length` tokens (prompt included).

        Args:
            prompts: token ids in `[0, vocabulary_size)` (a list of id lists
                of any lengths, one id list, or an int array `[B, P]` with an
                optional right-padded `padding_mask`; float ids raise
                TypeError, ids out of range ValueError), or strings (one, or a list) when a
                preprocessor/tokenizer is attached. Batches are
                **right-padded**: see `kerasnlp_lite.generation.decode`.
            max_length: total length M of each output row; must exceed the
                longest prompt and be <= the backbone's max_sequence_length.
            sampler: "greedy", "random", "top_k", "top_p", "beam", or a
                `kerasnlp_lite.generation` sampler instance; its arguments
                (`k`, `p`, `temperature`, `num_beams`, `length_penalty`) as
                keyword arguments.
            stop_token_ids: ids that end a row: the stop token is kept, and
                the rest of the row is `pad_token_id` with `padding_mask` 0. The
                loop exits early once every row has stopped. "auto" (default):
                the preprocessor's `end_token_id` when it has one, else none;
                None or () for none.
            seed: int seed of the random samplers (None: a fresh one). The
                same seed gives the same tokens with and without
                `jit_compile` (see `kerasnlp_lite.generation.samplers`).
            pad_token_id: id written after a row ends.
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
        return self.run_generate(
            prompts, max_length, sampler, stop_token_ids, seed, pad_token_id, use_cache, jit_compile, sampler_kwargs,
            padding_mask=padding_mask,
        )

    @property
    def output_vocabulary_size(self):
        return self.backbone.vocabulary_size

    def default_stop_token_ids(self):
        end = getattr(self.preprocessor, "end_token_id", None)
        return () if end is None else (end,)

    def generate_preprocess(self, prompts, max_length, is_text, padding_mask=None):
        skip_ids = set()
        if is_text:
            texts = [prompts] if isinstance(prompts, (str, bytes)) else list(text_inputs.check_texts(prompts, "prompts"))
            if hasattr(self.preprocessor, "prompt_ids"):
                prompts = self.preprocessor.prompt_ids(texts)  # [start] + tokens, as in training
                if self.preprocessor.start_token_id is not None:
                    skip_ids.add(self.preprocessor.start_token_id)
            else:
                prompts = self.generate_tokenizer().tokenize(tf.constant(texts)).to_list()  # ragged -> id lists
        token_ids, mask = prepare_prompts(prompts, padding_mask)
        # Before the compiled loop: a gather there wraps -1 to V-1, and XLA clamps ids >= V, silently.
        check_id_array(token_ids, self.backbone.vocabulary_size, "prompts")
        check_generation_lengths(max_length, token_ids.shape[1], self.backbone.max_sequence_length)
        return (token_ids, mask), skip_ids

    def check_text_targets(self, y, sample_weight, n):
        if y is not None:
            raise ValueError("CausalLM makes its own labels (the next tokens of each text): pass texts as `x`, no `y`.")
        return None, text_inputs.check_aligned(sample_weight, n, "sample_weight")

    def generate_tokenizer(self):
        if self.preprocessor is None:
            raise ValueError("`generate` got strings but the CausalLM has no preprocessor; pass token ids.")
        tokenizer = getattr(self.preprocessor, "tokenizer", self.preprocessor)
        if not hasattr(tokenizer, "tokenize") or not hasattr(tokenizer, "detokenize"):
            raise ValueError(f"The preprocessor {self.preprocessor!r} has no tokenizer with tokenize/detokenize.")
        return tokenizer
