"""Census cases: samplers, prompt helpers, `CausalLM.generate`, `Seq2SeqLM.generate` and the models' caches."""

import numpy as np

from kerasnlp_lite import generation, models
from tests.census.harness import Case
from tests.census.shared import V

IDS = "ids out of range"
CACHE = "cache_index"
ARG = "argument"
SHAPE = "shape/dtype"
SAMPLER = "sampler/seed"
PAD = "all-padding source"

LOGITS = np.array([[0.1, 2.0, -1.0, 0.5]], "float32")


def _gen(s, prompts, max_length=10, **kwargs):
    return s.causal_lm.generate(prompts, max_length, **kwargs)


def _same_seed_with_and_without_jit(s):
    prompt = np.array([[5, 6, 7]], "int32")
    plain = _gen(s, prompt, 12, sampler="top_k", k=5, seed=7, stop_token_ids=None)
    jitted = _gen(s, prompt, 12, sampler="top_k", k=5, seed=7, stop_token_ids=None, jit_compile=True)
    return plain, jitted


def _tokens(out):
    return np.asarray(out["token_ids"] if isinstance(out, dict) else out)


def _s2s(s, inputs, max_length=6, **kwargs):
    return s.t5_lm.generate(inputs, max_length, **kwargs)


def _all_padding_source(s):
    inputs = {"encoder_token_ids": np.zeros((1, 4), "int32"), "encoder_padding_mask": np.zeros((1, 4), "int32")}
    return _s2s(s, inputs)


def cases():
    C = Case
    return [
        # Samplers.
        C("generation.RandomSampler", "temperature=0", lambda s: generation.RandomSampler(temperature=0.0),
          kind=SAMPLER),
        C("generation.RandomSampler", "temperature=-1", lambda s: generation.RandomSampler(temperature=-1.0),
          kind=SAMPLER),
        C("generation.TopKSampler", "k=0", lambda s: generation.TopKSampler(k=0), kind=SAMPLER),
        C("generation.TopKSampler", "k=2.5", lambda s: generation.TopKSampler(k=2.5), kind=SAMPLER),
        C("generation.TopKSampler", "k larger than the vocabulary, at call",
          lambda s: generation.TopKSampler(k=10)(LOGITS, seed=(1, 2)), kind=SAMPLER,
          expect="error naming k and the vocabulary size, or sampling over all 4"),
        C("generation.TopPSampler", "p=0", lambda s: generation.TopPSampler(p=0.0), kind=SAMPLER),
        C("generation.TopPSampler", "p=1.5", lambda s: generation.TopPSampler(p=1.5), kind=SAMPLER),
        C("generation.BeamSearch", "num_beams=0", lambda s: generation.BeamSearch(num_beams=0), kind=SAMPLER),
        C("generation.BeamSearch", "length_penalty='long'", lambda s: generation.BeamSearch(length_penalty="long"),
          kind=SAMPLER),
        C("generation.get_sampler", "'nucleus'", lambda s: generation.get_sampler("nucleus"), kind=SAMPLER),
        C("generation.get_sampler", "'top_k' with p=0.5", lambda s: generation.get_sampler("top_k", p=0.5),
          kind=SAMPLER),
        C("generation.GreedySampler", "rank-1 logits", lambda s: generation.GreedySampler()(LOGITS[0], seed=None),
          kind=SHAPE),
        C("generation.GreedySampler", "NaN logits",
          lambda s: generation.GreedySampler()(np.full((1, 4), np.nan, "float32"), seed=None), kind=SHAPE),
        C("generation.Sampler", "int logits", lambda s: generation.GreedySampler()(np.array([[1, 3, 2]]), seed=None),
          kind=SHAPE, expect="error, or the argmax 1", check=lambda out: int(np.asarray(out).ravel()[0]) == 1),
        # Prompt helpers.
        C("generation.prepare_prompts", "no prompts", lambda s: generation.prepare_prompts([])),
        C("generation.prepare_prompts", "a negative id", lambda s: generation.prepare_prompts([[1, -2]]), kind=IDS),
        C("generation.prepare_prompts", "float ids", lambda s: generation.prepare_prompts([[1.5, 2.0]]), kind=IDS),
        C("generation.prepare_prompts", "padding_mask of another shape",
          lambda s: generation.prepare_prompts(np.array([[1, 2]]), padding_mask=np.ones((1, 3))), kind=SHAPE),
        C("generation.few_shot_prompt", "num_shots=5 with 2 examples",
          lambda s: generation.few_shot_prompt("Add.", [("1+1", "2"), ("2+2", "4")], "3+3", num_shots=5)),
        C("generation.few_shot_prompt", "examples that are not pairs",
          lambda s: generation.few_shot_prompt("Add.", ["1+1=2"], "3+3")),
        C("generation.score_choices", "no choices", lambda s: generation.score_choices(s.causal_lm, "Return", [])),
        C("generation.score_choices", "normalize='mean'",
          lambda s: generation.score_choices(s.causal_lm, "Return", ["a", "b"], normalize="mean")),
        # CausalLM.generate.
        C("models.CausalLM", "a BERT backbone", lambda s: models.CausalLM(s.bert)),
        C("models.CausalLM.generate", "prompt id == V (eager)", lambda s: _gen(s, np.array([[5, s.sp_size]])),
          kind=IDS),
        C("models.CausalLM.generate", "prompt id -1", lambda s: _gen(s, np.array([[5, -1]])), kind=IDS),
        C("models.CausalLM.generate", "prompt id == V with jit_compile=True",
          lambda s: _gen(s, np.array([[5, s.sp_size]]), jit_compile=True), kind=IDS),
        C("models.CausalLM.generate", "float prompt ids", lambda s: _gen(s, np.array([[5.0, 6.5]])), kind=IDS),
        C("models.CausalLM.generate", "max_length equal to the prompt length",
          lambda s: _gen(s, np.array([[5, 6, 7]]), max_length=3)),
        C("models.CausalLM.generate", "max_length > max_sequence_length",
          lambda s: _gen(s, np.array([[5, 6]]), max_length=64)),
        C("models.CausalLM.generate", "sampler='nucleus'", lambda s: _gen(s, np.array([[5]]), sampler="nucleus"),
          kind=SAMPLER),
        C("models.CausalLM.generate", "stop_token_ids=[V]", lambda s: _gen(s, np.array([[5]]),
                                                                          stop_token_ids=[s.sp_size]), kind=IDS),
        C("models.CausalLM.generate", "stop_token_ids=-1", lambda s: _gen(s, np.array([[5]]), stop_token_ids=-1),
          kind=IDS),
        C("models.CausalLM.generate", "stop_token_ids='end'", lambda s: _gen(s, np.array([[5]]),
                                                                            stop_token_ids="end")),
        C("models.CausalLM.generate", "sampler='random', temperature=0",
          lambda s: _gen(s, np.array([[5]]), sampler="random", temperature=0.0), kind=SAMPLER),
        C("models.CausalLM.generate", "sampler='top_k', k=0", lambda s: _gen(s, np.array([[5]]), sampler="top_k", k=0),
          kind=SAMPLER),
        C("models.CausalLM.generate", "sampler='beam', num_beams=0",
          lambda s: _gen(s, np.array([[5]]), sampler="beam", num_beams=0), kind=SAMPLER),
        C("models.CausalLM.generate", "an empty text prompt", lambda s: _gen(s, [""])),
        C("models.CausalLM.generate", "a text prompt with a NUL",
          lambda s: _gen(s, ["Return\x00 the"]), kind="NUL / invalid UTF-8",
          expect="documented: the prompt as its SentencePiece tokenizer reads it (NUL is the unknown piece, "
                 "shown as ⁇), then the continuation",
          check=lambda out: str(out[0] if isinstance(out, (list, tuple)) else out).startswith("Return ⁇")),
        C("models.CausalLM.generate", "padding_mask of another shape",
          lambda s: _gen(s, np.array([[5, 6]]), padding_mask=np.ones((1, 3))), kind=SHAPE),
        C("models.CausalLM.generate", "seed='abc'", lambda s: _gen(s, np.array([[5]]), sampler="random", seed="abc"),
          kind=SAMPLER),
        C("models.CausalLM.generate", "same seed with and without jit_compile",
          _same_seed_with_and_without_jit, kind=SAMPLER, timeout=180,
          expect="documented: the same tokens either way",
          check=lambda out: np.array_equal(_tokens(out[0]), _tokens(out[1]))),
        C("models.CausalLM.generate", "an unknown sampler argument (topk=3)",
          lambda s: _gen(s, np.array([[5]]), sampler="top_k", topk=3), kind=SAMPLER),
        C("models.CausalLM.call_with_cache", "cache_index == L",
          lambda s: s.causal_lm.call_with_cache(np.array([[5]]), s.gpt.init_cache(1, 6), 6), kind=CACHE),
        # Seq2SeqLM.generate.
        C("models.Seq2SeqLM", "decoder_start_token_id == V",
          lambda s: models.Seq2SeqLM(s.t5, decoder_start_token_id=V, end_token_id=3, pad_token_id=0)),
        C("models.Seq2SeqLM", "a GPT backbone", lambda s: models.Seq2SeqLM(s.gpt, decoder_start_token_id=0,
                                                                          end_token_id=3, pad_token_id=0)),
        C("models.Seq2SeqLM.generate", "an all-padding source", _all_padding_source, kind=PAD),
        C("models.Seq2SeqLM.generate", "source id == V", lambda s: _s2s(s, np.array([[5, V]])), kind=IDS),
        C("models.Seq2SeqLM.generate", "source id -1 with jit_compile=True",
          lambda s: _s2s(s, np.array([[5, -1]]), jit_compile=True), kind=IDS),
        C("models.Seq2SeqLM.generate", "decoder prompt id == V",
          lambda s: _s2s(s, np.array([[5, 6]]), decoder_prompts=[[0, V]]), kind=IDS),
        C("models.Seq2SeqLM.generate", "max_length=0", lambda s: _s2s(s, np.array([[5, 6]]), max_length=0)),
        C("models.Seq2SeqLM.generate", "strings without a preprocessor", lambda s: _s2s(s, ["the cat"])),
        C("models.Seq2SeqLM.generate", "stop_token_ids=[V]",
          lambda s: _s2s(s, np.array([[5, 6]]), stop_token_ids=[V]), kind=IDS),
        C("models.Seq2SeqLM.generate", "2 sources and 1 decoder prompt",
          lambda s: _s2s(s, np.array([[5, 6], [7, 8]]), decoder_prompts=[[0]]), kind=SHAPE),
        C("models.Seq2SeqLM.generate", "an encoder dict without a padding mask (BART)",
          lambda s: s.bart_lm.generate({"encoder_token_ids": np.array([[5, 6]])}, 4), kind=SHAPE,
          expect="error, or generation with an all-ones mask",
          check=lambda out: _tokens(out).shape[0] == 1),
    ]
