"""Sequence-to-sequence language model: an encoder-decoder backbone, the tied output layer,
teacher-forced training and `generate`.

Shape legend: B = batch, S = encoder length, T = decoder length, M =
`max_length` of generation (decoder tokens, the start token included), V =
target vocabulary.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasnlp_lite.generation.decode import build_seq2seq_generate_function, check_generation_lengths, prepare_prompts
from kerasnlp_lite.heads.causal_lm_head import CausalLMHead
from kerasnlp_lite.models import text_inputs
from kerasnlp_lite.models.generative_task import GenerativeTask
from kerasnlp_lite.models.seq2seq.seq2seq_backbone import INPUT_NAMES, check_seq2seq_inputs
from kerasnlp_lite.utils.validation import check_backbone_kind, check_id, check_ids_in_range


@keras.saving.register_keras_serializable(package="kerasnlp_lite")
class Seq2SeqLM(GenerativeTask):
    """p(y | x) with an encoder-decoder backbone (`TransformerSeq2Seq`, `BartBackbone`, `T5Backbone`).

    Inputs: the backbone's (`encoder_token_ids`, `encoder_padding_mask`,
    `decoder_token_ids`, `decoder_padding_mask`). Output: float32 logits
    `[B, T, V]` = (logit_scale * h) W_e^T through the decoder's token table
    (tied, as Vaswani et al. 3.4, BART and T5; T5's logit_scale is
    d_model^-1/2, the others 1).

    Training is teacher forcing: the decoder input is the target shifted
    right behind `decoder_start_token_id`, the ground truth is fed at every
    step, and the labels are the target itself (`kerasnlp_lite.data.
    seq2seq_examples` builds both). `compile()` defaults to sparse
    cross-entropy from logits averaged over real target tokens: without a
    `sample_weight`, `fit` weights each position by the inputs'
    `decoder_padding_mask`, so padding never counts.

    Args:
        backbone: a seq2seq backbone.
        preprocessor: optional `Seq2SeqPreprocessor` (or anything with
            `tokenizer` and `encoder_inputs(texts)`), so `generate` takes strings.
        decoder_start_token_id, end_token_id, pad_token_id: default to the
            backbone's token layout (T5: 0/1/0, BART: 2/2/1, Transformer:
            1/2/0, the layout of `kerasnlp_lite.data.synthetic`).

    Example:
    >>> lm = Seq2SeqLM(TransformerSeq2Seq.from_preset("transformer_tiny", vocabulary_size=16))
    >>> lm.compile(optimizer="adam")
    >>> lm.fit(x, labels)          # x, labels = seq2seq_examples(sources, targets, ...)
    >>> lm.generate({"encoder_token_ids": ids, "encoder_padding_mask": mask}, max_length=12)["token_ids"]
    """

    PADDING_MASK_KEY = "decoder_padding_mask"

    def __init__(
        self,
        backbone,
        preprocessor=None,
        decoder_start_token_id=None,
        end_token_id=None,
        pad_token_id=None,
        **kwargs,
    ):
        check_backbone_kind(
            backbone, "Seq2SeqLM", "an encoder-decoder backbone (BART, T5, Transformer)", ["decoder_sequence_output"],
            ["decoder_vocabulary_size", "token_embedding", "init_cache", "call_with_cache"],
        )
        vocabulary_size = backbone.decoder_vocabulary_size
        self_ids = {
            "decoder_start_token_id": backbone.DECODER_START_TOKEN_ID if decoder_start_token_id is None else decoder_start_token_id,
            "end_token_id": backbone.END_TOKEN_ID if end_token_id is None else end_token_id,
            "pad_token_id": backbone.PAD_TOKEN_ID if pad_token_id is None else pad_token_id,
        }
        for name, value in self_ids.items():
            check_id(value, name, vocabulary_size)
        inputs = backbone.input
        head = CausalLMHead(backbone.token_embedding, dtype=backbone.dtype_policy, name="lm_head")
        hidden = backbone(inputs)["decoder_sequence_output"]
        if backbone.logit_scale != 1.0:
            hidden = keras.layers.Rescaling(backbone.logit_scale, dtype=backbone.dtype_policy, name="logit_scale")(hidden)
        logits = head(hidden)
        super().__init__(inputs=inputs, outputs=logits, backbone=backbone, preprocessor=preprocessor, **kwargs)
        self.lm_head = head
        self.decoder_start_token_id = self_ids["decoder_start_token_id"]
        self.end_token_id = self_ids["end_token_id"]
        self.pad_token_id = self_ids["pad_token_id"]

    def task_config(self):
        return {
            "decoder_start_token_id": self.decoder_start_token_id,
            "end_token_id": self.end_token_id,
            "pad_token_id": self.pad_token_id,
        }

    def call(self, inputs, training=None, mask=None):
        check_seq2seq_inputs(inputs, self.backbone.max_sequence_length)
        return super().call(inputs, training=training, mask=mask)

    # --- decoding ---------------------------------------------------------
    def compute_logits(self, hidden):
        """float32 logits `[..., V]` of decoder hidden states."""
        if self.backbone.logit_scale != 1.0:
            hidden = hidden * ops.cast(self.backbone.logit_scale, hidden.dtype)
        return self.lm_head(hidden)

    def score(self, inputs, target_ids, target_padding_mask=None):
        """Teacher-forced log p(target | source) per row: `[B]` float32 (sum over real target tokens).

        Args:
            inputs: dict with `encoder_token_ids` and `encoder_padding_mask`.
            target_ids: int `[B, T]` (the tokens to score, without the start
                token; right-padded).
            target_padding_mask: `[B, T]`; default all ones.
        """
        target_ids = np.asarray(target_ids, "int32")
        mask = np.ones_like(target_ids) if target_padding_mask is None else np.asarray(target_padding_mask, "int32")
        decoder_ids = np.concatenate(
            [np.full((len(target_ids), 1), self.decoder_start_token_id, "int32"), target_ids[:, :-1]], axis=1
        )
        logits = self(
            {
                "encoder_token_ids": np.asarray(inputs["encoder_token_ids"], "int32"),
                "encoder_padding_mask": np.asarray(inputs["encoder_padding_mask"], "int32"),
                "decoder_token_ids": decoder_ids,
                "decoder_padding_mask": mask,
            }
        )
        log_probs = tf.nn.log_softmax(logits)
        picked = tf.gather(log_probs, target_ids, axis=-1, batch_dims=2)
        return (tf.reduce_sum(picked * tf.cast(mask, tf.float32), axis=1)).numpy()

    DECODE_FUNCTION = staticmethod(build_seq2seq_generate_function)

    def generate(
        self,
        inputs,
        max_length,
        sampler="greedy",
        decoder_prompts=None,
        stop_token_ids="auto",
        seed=None,
        use_cache=True,
        jit_compile=False,
        **sampler_kwargs,
    ):
        """Decodes a target for each source.

        Args:
            inputs: a dict with int `encoder_token_ids` `[B, S]` and
                `encoder_padding_mask`; or token-id lists (one source or a
                list of sources, any lengths); or strings (one or a list) when
                a preprocessor is attached. Every source needs a real token
                (an all-padding row raises ValueError); float ids raise
                TypeError and ids outside the vocabulary ValueError.
            max_length: M, decoder tokens per output row (the start token
                and any decoder prompt included); <= the backbone's
                max_sequence_length.
            sampler: "greedy", "random", "top_k", "top_p", "beam" or a sampler
                instance; its arguments (`k`, `p`, `temperature`,
                `num_beams`, `length_penalty`) as keyword arguments.
            decoder_prompts: optional decoder prefixes (id lists, each
                starting with the decoder start token); default the start
                token alone.
            stop_token_ids: "auto" (the default: `end_token_id`), None or ()
                for none, or ids. The stop token is kept; the row is then
                padded with `pad_token_id` (padding_mask 0).
            seed: seed of the random samplers; the same seed gives the same
                tokens with and without `jit_compile`.
            use_cache: decode with the self-attention KV cache and the
                encoder keys/values computed once (True), or rerun the whole
                decoder prefix every step (False; for checks).
            jit_compile: compile the loop with XLA.

        Returns:
            For token ids: a dict of numpy arrays `token_ids` int32 `[B, M]`
            (start token first), `padding_mask` bool `[B, M]`, and `scores`
            `[B]` (log-probability of the generated tokens) with beam search.
            For strings: the detokenized targets (start, stop and pad tokens
            left out), a string or a list like the input.
        """
        return self.run_generate(
            inputs, max_length, sampler, stop_token_ids, seed, self.pad_token_id, use_cache, jit_compile,
            sampler_kwargs, decoder_prompts=decoder_prompts,
        )

    @property
    def output_vocabulary_size(self):
        return self.backbone.decoder_vocabulary_size

    def default_stop_token_ids(self):
        return (self.end_token_id,)

    def generate_tokenizer(self):
        return self._preprocessor("strings").tokenizer

    def generate_preprocess(self, inputs, max_length, is_text, decoder_prompts=None):
        if is_text:
            texts = [inputs] if isinstance(inputs, (str, bytes)) else list(np.asarray(inputs, dtype=object).tolist())
            encoder = self._preprocessor("strings").encoder_inputs(texts)
        elif isinstance(inputs, dict):
            encoder = _encoder_arrays(inputs)
        else:
            ids, mask = prepare_prompts(inputs)
            encoder = {"encoder_token_ids": ids, "encoder_padding_mask": mask.astype("int32")}
        check_ids_in_range(encoder["encoder_token_ids"], self.backbone.vocabulary_size, "encoder_token_ids")
        empty = np.flatnonzero(np.asarray(encoder["encoder_padding_mask"]).sum(axis=1) == 0)
        if empty.size:
            # An all-padding source masks every key of cross-attention: the decoder would generate from nothing.
            raise ValueError(
                f"Every source needs at least one real token; `encoder_padding_mask` is all zeros in rows "
                f"{empty.tolist()}."
            )
        batch_size = len(encoder["encoder_token_ids"])
        if decoder_prompts is None:
            decoder_prompts = [[self.decoder_start_token_id]] * batch_size
        decoder_ids, decoder_mask = prepare_prompts(decoder_prompts)
        if len(decoder_ids) != batch_size:
            raise ValueError(
                f"Encoder and decoder inputs must have the same batch size; got {batch_size} sources and "
                f"{len(decoder_ids)} decoder prompts."
            )
        check_ids_in_range(decoder_ids, self.output_vocabulary_size, "decoder_prompts")
        check_seq2seq_inputs(dict(encoder), self.backbone.max_sequence_length)
        check_generation_lengths(max_length, decoder_ids.shape[1], self.backbone.max_sequence_length or np.inf)
        arrays = (encoder["encoder_token_ids"], encoder["encoder_padding_mask"], decoder_ids, decoder_mask)
        return arrays, {self.decoder_start_token_id, self.pad_token_id}

    def _preprocessor(self, what):
        if self.preprocessor is None or not hasattr(self.preprocessor, "encoder_inputs"):
            raise ValueError(
                f"`generate` got {what} but the Seq2SeqLM has no Seq2SeqPreprocessor; pass token ids, or build it "
                "with `preprocessor=Seq2SeqPreprocessor(tokenizer, ...)`."
            )
        return self.preprocessor

    def _text_xy(self, x, y):
        """Text pairs as `fit(sources, targets)`, `x=(sources, targets)` or `x={"encoder_text", "decoder_text"}`."""
        if isinstance(x, dict):
            unknown = sorted(set(x) - {"encoder_text", "decoder_text"})
            if unknown or len(x) != 2:
                raise ValueError(f"A dict `x` takes `encoder_text` and `decoder_text`; got keys {sorted(x)}.")
            x = (x["encoder_text"], x["decoder_text"])
        if y is not None and text_inputs.contains_text(y):
            x, y = (x, y), None
        if not (isinstance(x, (tuple, list)) and len(x) == 2 and all(text_inputs.contains_text(v) for v in x)):
            raise ValueError(
                "Seq2SeqLM takes text as sources and targets: `fit(sources, targets)`, `fit(x=(sources, targets))` "
                "or `fit(x={'encoder_text': ..., 'decoder_text': ...})`."
            )
        return tuple(x), y

    def check_text_targets(self, y, sample_weight, n):
        if y is not None:
            raise ValueError("Seq2SeqLM makes its labels from the target texts; pass no numeric `y`.")
        return None, text_inputs.check_aligned(sample_weight, n, "sample_weight")

    def predict(self, x, batch_size=32, **kwargs):
        if text_inputs.is_text_batch(x):
            raise ValueError(
                "Seq2SeqLM.predict takes the four token-id inputs; for text use `generate(texts, max_length=...)`."
            )
        return super().predict(x, batch_size=batch_size, **kwargs)


def _encoder_arrays(inputs):
    """A `{"encoder_token_ids", "encoder_padding_mask"}` dict -> int32 arrays, checked."""
    unknown = sorted(set(inputs) - {"encoder_token_ids", "encoder_padding_mask"})
    if unknown or "encoder_token_ids" not in inputs:
        raise ValueError(
            "`inputs` dict takes `encoder_token_ids` and optionally `encoder_padding_mask`"
            + (f"; unknown keys: {unknown}" if unknown else "") + "."
        )
    ids = np.asarray(inputs["encoder_token_ids"])
    if ids.dtype.kind not in "iu":
        raise TypeError(f"`encoder_token_ids` must hold integer token ids [batch, length], got dtype {ids.dtype}.")
    if ids.ndim != 2:
        raise ValueError(f"`encoder_token_ids` must be int [batch, length], got {ids.dtype} {ids.shape}.")
    mask = inputs.get("encoder_padding_mask")
    mask = np.ones_like(ids) if mask is None else np.asarray(mask)
    if mask.shape != ids.shape:
        raise ValueError(f"`encoder_padding_mask` shape {mask.shape} differs from `encoder_token_ids` {ids.shape}.")
    return {"encoder_token_ids": ids.astype("int32"), "encoder_padding_mask": mask.astype("int32")}


__all__ = ["Seq2SeqLM", "INPUT_NAMES"]
