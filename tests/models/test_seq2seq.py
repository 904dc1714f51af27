"""Encoder-decoder backbones and Seq2SeqLM: contract, config, saving, caching, presets, bad input."""

import keras
import numpy as np
import pytest

from kerasnlp_lite.data import reverse_task, seq2seq_examples, synthetic_seq2seq_examples
from kerasnlp_lite.models import BartBackbone, Seq2SeqLM, T5Backbone, TransformerSeq2Seq
from kerasnlp_lite.models.bart import bart_presets
from kerasnlp_lite.models.t5 import t5_presets
from kerasnlp_lite.models.transformer import transformer_presets
from tests.test_case import assert_allclose, check_keras_round_trip, run_backbone_test, run_preset_test

TINY = {
    TransformerSeq2Seq: dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                             max_sequence_length=32),
    BartBackbone: dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                       max_sequence_length=32),
    T5Backbone: dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                     relative_attention_num_buckets=8, relative_attention_max_distance=16),
}
FAMILIES = list(TINY)


def _inputs(batch=2, source=(7, 4), target=(5, 2), vocabulary_size=40, seed=0):
    rng = np.random.default_rng(seed)
    s, t = max(source), max(target)
    x = {
        "encoder_token_ids": rng.integers(3, vocabulary_size, (batch, s)).astype("int32"),
        "encoder_padding_mask": (np.arange(s)[None] < np.array(source)[:, None]).astype("int32"),
        "decoder_token_ids": rng.integers(3, vocabulary_size, (batch, t)).astype("int32"),
        "decoder_padding_mask": (np.arange(t)[None] < np.array(target)[:, None]).astype("int32"),
    }
    x["encoder_token_ids"] *= x["encoder_padding_mask"]
    x["decoder_token_ids"] *= x["decoder_padding_mask"]
    return x


@pytest.mark.parametrize("cls", FAMILIES)
def test_backbone_basics(cls):
    """Contract, config, `.keras` round trip and mixed precision (see `run_backbone_test`)."""
    expected = {"encoder_sequence_output": (2, 7, 16), "decoder_sequence_output": (2, 5, 16)}
    run_backbone_test(cls, TINY[cls], _inputs(), expected)


@pytest.mark.parametrize("cls", FAMILIES)
def test_padding_does_not_leak(cls):
    """Changing padded encoder/decoder tokens changes nothing at real positions."""
    backbone = cls(**TINY[cls])
    x = _inputs()
    y = dict(x)
    y["encoder_token_ids"] = np.where(x["encoder_padding_mask"] > 0, x["encoder_token_ids"], 9)
    y["decoder_token_ids"] = np.where(x["decoder_padding_mask"] > 0, x["decoder_token_ids"], 9)
    a, b = backbone(x), backbone(y)
    for side in ("encoder", "decoder"):
        mask = x[f"{side}_padding_mask"][..., None] > 0
        diff = np.abs(np.asarray(a[f"{side}_sequence_output"]) - np.asarray(b[f"{side}_sequence_output"]))
        assert (diff * mask).max() < 1e-6


@pytest.mark.parametrize("cls", FAMILIES)
def test_causal_decoder(cls):
    """Decoder position t does not see decoder tokens after t."""
    backbone = cls(**TINY[cls])
    x = _inputs(target=(5, 5))
    y = dict(x, decoder_token_ids=x["decoder_token_ids"].copy())
    y["decoder_token_ids"][:, 3:] = 7
    a = np.asarray(backbone(x)["decoder_sequence_output"])
    b = np.asarray(backbone(y)["decoder_sequence_output"])
    assert np.abs(a[:, :3] - b[:, :3]).max() < 1e-6
    assert np.abs(a[:, 3:] - b[:, 3:]).max() > 1e-4


@pytest.mark.parametrize("cls", FAMILIES)
def test_cached_decoding_equals_the_full_pass(cls):
    backbone = cls(**TINY[cls])
    x = _inputs(target=(6, 6))
    full = np.asarray(backbone(x)["decoder_sequence_output"])
    encoder_output = backbone.encode(x["encoder_token_ids"], x["encoder_padding_mask"])
    cache = backbone.init_cache(encoder_output, x["encoder_padding_mask"], 10)
    steps = []
    hidden, cache = backbone.call_with_cache(x["decoder_token_ids"][:, :3], cache, 0)  # prefill
    steps.append(hidden)
    for i in range(3, 6):
        hidden, cache = backbone.call_with_cache(x["decoder_token_ids"][:, i : i + 1], cache, i)
        steps.append(hidden)
    assert_allclose(np.concatenate([np.asarray(s) for s in steps], axis=1), full, atol=2e-5)
    # The cross-attention keys/values are computed once, in init_cache.
    assert len(cache["cross"]) == backbone.num_decoder_layers and tuple(cache["cross"][0][0].shape)[2] == 7


@pytest.mark.parametrize("cls", FAMILIES)
def test_lm_logits_stay_float32_under_mixed_precision(cls):
    # The backbone under mixed precision: `run_backbone_test` above.
    logits = Seq2SeqLM(cls(**TINY[cls], dtype="mixed_bfloat16"))(_inputs())
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


PAPER_PARAMETERS = {
    **transformer_presets.PAPER_PARAMETERS, **bart_presets.PAPER_PARAMETERS, **t5_presets.PAPER_PARAMETERS
}
PRESETS = [(cls, name) for cls in FAMILIES for name in cls.presets() if name in PAPER_PARAMETERS]


def test_every_full_size_preset_has_a_paper_size():
    assert {name for _, name in PRESETS} == set(PAPER_PARAMETERS)


@pytest.mark.parametrize("cls,name", PRESETS)
def test_preset_parameter_count(cls, name):
    run_preset_test(cls, name, expected_num_params=PAPER_PARAMETERS[name], rel_tol=0.05)


def test_transformer_shared_and_separate_embeddings():
    shared = TransformerSeq2Seq(**TINY[TransformerSeq2Seq])
    separate = TransformerSeq2Seq(**dict(TINY[TransformerSeq2Seq], share_embeddings=False, target_vocabulary_size=30))
    assert separate.count_params() == shared.count_params() + 30 * 16
    assert separate.token_embedding.vocabulary_size == 30
    x = _inputs(vocabulary_size=30)
    assert tuple(Seq2SeqLM(separate)(x).shape) == (2, 5, 30)
    with pytest.raises(ValueError, match="share_embeddings"):
        TransformerSeq2Seq(**dict(TINY[TransformerSeq2Seq], target_vocabulary_size=30))


def test_t5_specifics():
    backbone = T5Backbone(**TINY[T5Backbone])
    names = [w.path for w in backbone.weights]
    assert not any("bias" in n and "position_bias" not in n for n in names), names  # no projection biases
    assert not any("position_embedding" in n for n in names)  # relative positions only
    assert sum("relative_position_bias" in n for n in names) == 2  # one table per stack, shared by its layers
    lm = Seq2SeqLM(backbone)
    x = _inputs()
    hidden = backbone(x)["decoder_sequence_output"]
    expected = np.asarray(hidden) * 16**-0.5 @ np.asarray(backbone.token_embedding.embeddings).T
    assert_allclose(lm(x), expected, atol=1e-5)  # T5 rescales before the tied projection


def _trained_reversal_lm(epochs=1):
    keras.utils.set_random_seed(1)
    backbone = TransformerSeq2Seq(
        vocabulary_size=12, num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64, dropout=0.0,
        max_sequence_length=16,
    )
    lm = Seq2SeqLM(backbone)
    # No XLA: compiling the train step costs far more than the 16 steps of an epoch; one epoch already ends
    # every row of the test below with the end token.
    lm.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=False)
    x, y = synthetic_seq2seq_examples(reverse_task(1024, 1, 5, vocabulary_size=12, seed=0))
    lm.fit(x, y, batch_size=64, epochs=epochs, verbose=0)
    return lm


def test_teacher_forcing_loss_ignores_padding():
    lm = Seq2SeqLM(TransformerSeq2Seq(**TINY[TransformerSeq2Seq]))
    lm.compile()
    x = _inputs()
    labels = np.where(x["decoder_padding_mask"] > 0, 5, 0)
    other = np.where(x["decoder_padding_mask"] > 0, 5, 17)
    loss = lm.evaluate(x, labels, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(lm.evaluate(x, other, verbose=0, return_dict=True)["loss"], abs=1e-6)
    log_probs = np.asarray(keras.ops.log_softmax(lm(x)))
    mask = x["decoder_padding_mask"]
    expected = -(log_probs[..., 5] * mask).sum() / mask.sum()
    assert loss == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("cls", [BartBackbone, T5Backbone])
def test_generate_cached_equals_uncached_and_score(cls):
    # One decoder layer: every generate variant below traces its own decode loop, and the trace grows with
    # the layers (the cache of a multi-layer stack is checked by test_cached_decoding_equals_the_full_pass).
    lm = Seq2SeqLM(cls(**dict(TINY[cls], num_layers=1)))
    x = _inputs()
    sources = {"encoder_token_ids": x["encoder_token_ids"], "encoder_padding_mask": x["encoder_padding_mask"]}
    cached = lm.generate(sources, max_length=8, stop_token_ids=None)
    uncached = lm.generate(sources, max_length=8, stop_token_ids=None, use_cache=False)
    np.testing.assert_array_equal(cached["token_ids"], uncached["token_ids"])
    assert (cached["token_ids"][:, 0] == lm.decoder_start_token_id).all()
    # Greedy picks the argmax of the teacher-forced logits at every step.
    ids = cached["token_ids"]
    logits = lm(dict(x, decoder_token_ids=ids[:, :-1], decoder_padding_mask=np.ones_like(ids[:, :-1])))
    np.testing.assert_array_equal(np.argmax(logits, -1), ids[:, 1:])
    beam = lm.generate(sources, max_length=8, stop_token_ids=None, sampler="beam", num_beams=1)
    np.testing.assert_array_equal(beam["token_ids"], ids)
    assert_allclose(beam["scores"], lm.score(sources, ids[:, 1:]), atol=1e-4)
    top_k = [lm.generate(sources, max_length=8, sampler="top_k", k=5, seed=3)["token_ids"] for _ in range(2)]
    np.testing.assert_array_equal(top_k[0], top_k[1])
    # top_p with p -> 0 keeps only the most likely token: greedy.
    nucleus = lm.generate(sources, max_length=8, stop_token_ids=None, sampler="top_p", p=1e-6, seed=4)
    np.testing.assert_array_equal(nucleus["token_ids"], ids)


def test_generate_stops_at_the_end_token_and_reloads():
    lm = _trained_reversal_lm()
    test = reverse_task(32, 1, 5, vocabulary_size=12, seed=5)
    sources = {"encoder_token_ids": test["source_ids"], "encoder_padding_mask": test["source_padding_mask"]}
    out = lm.generate(sources, max_length=8)
    stopped = 0
    for row, mask in zip(out["token_ids"], out["padding_mask"]):
        real = row[mask]
        if 2 in real:  # everything after the stop token is padding
            assert real[-1] == 2 and not mask[list(row).index(2) + 1 :].any()
            stopped += 1
    assert stopped > 0, "the trained model never emits the end token: the stop is not exercised"
    generate = lambda model: model.generate(sources, max_length=8)["token_ids"]  # noqa: E731
    restored = check_keras_round_trip(lm, generate, out["token_ids"], cls=Seq2SeqLM)
    assert restored.decoder_start_token_id == 1 and restored.end_token_id == 2
    # Token-id lists of any lengths work as sources.
    lists = [list(ids[m > 0]) for ids, m in zip(test["source_ids"][:3], test["source_padding_mask"][:3])]
    np.testing.assert_array_equal(lm.generate(lists, max_length=8)["token_ids"], out["token_ids"][:3])


def test_seq2seq_examples():
    x, y = seq2seq_examples([[5, 6, 2], [7, 2]], [[6, 5, 2], [7, 2]], decoder_start_token_id=1, end_token_id=2)
    np.testing.assert_array_equal(x["decoder_token_ids"], [[1, 6, 5], [1, 7, 0]])
    np.testing.assert_array_equal(y, [[6, 5, 2], [7, 2, 0]])
    np.testing.assert_array_equal(x["decoder_padding_mask"], [[1, 1, 1], [1, 1, 0]])
    np.testing.assert_array_equal(x["encoder_padding_mask"], [[1, 1, 1], [1, 1, 0]])


def test_bad_input():
    backbone = TransformerSeq2Seq(**TINY[TransformerSeq2Seq])
    lm = Seq2SeqLM(backbone)
    x = _inputs()
    # Mismatched encoder/decoder batch sizes.
    bad = dict(x, decoder_token_ids=x["decoder_token_ids"][:1], decoder_padding_mask=x["decoder_padding_mask"][:1])
    with pytest.raises(ValueError, match="same batch size"):
        backbone(bad)
    with pytest.raises(ValueError, match="same batch size"):
        lm(bad)
    sources = {"encoder_token_ids": x["encoder_token_ids"], "encoder_padding_mask": x["encoder_padding_mask"]}
    with pytest.raises(ValueError, match="same batch size"):
        lm.generate(sources, max_length=6, decoder_prompts=[[1]])
    # Decoder inputs longer than the maximum length.
    long = np.ones((2, 40), "int32")
    with pytest.raises(ValueError, match="decoder_token_ids.*max_sequence_length=32"):
        backbone(dict(x, decoder_token_ids=long, decoder_padding_mask=long))
    with pytest.raises(ValueError, match="max_sequence_length=32"):
        lm.generate(sources, max_length=40)
    with pytest.raises(ValueError, match="max_sequence_length=32"):
        backbone.init_cache(backbone.encode(x["encoder_token_ids"], x["encoder_padding_mask"]), x["encoder_padding_mask"], 33)
    # A target without an end token.
    with pytest.raises(ValueError, match="end token end_token_id=2.*row 1"):
        seq2seq_examples([[5, 2], [6, 2]], [[5, 2], [6, 7]], decoder_start_token_id=1, end_token_id=2)
    # Too long for the requested width: an error, never truncated.
    with pytest.raises(ValueError, match="longer than the sequence length 2"):
        seq2seq_examples([[5, 6, 2]], [[5, 2]], 1, 2, encoder_sequence_length=2)
    # Inputs and arguments.
    with pytest.raises(ValueError, match="(?i)missing.*decoder_padding_mask"):
        backbone({k: v for k, v in x.items() if k != "decoder_padding_mask"})
    with pytest.raises(ValueError, match="decoder_padding_mask"):
        backbone(dict(x, decoder_padding_mask=x["decoder_padding_mask"][:, :2]))
    with pytest.raises(ValueError, match="encoder_token_ids.*\\[0, 40\\)"):
        lm.generate({"encoder_token_ids": np.array([[50, 2]])}, max_length=4)
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        Seq2SeqLM(backbone, decoder_start_token_id=40)
    with pytest.raises(ValueError, match="strings"):
        lm.generate("a text", max_length=4)
    with pytest.raises(ValueError, match="num_layers"):
        BartBackbone(**dict(TINY[BartBackbone], num_layers=0))
    with pytest.raises(ValueError, match="divisible"):
        T5Backbone(**dict(TINY[T5Backbone], num_heads=3))
