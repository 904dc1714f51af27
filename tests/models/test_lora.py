"""LoRA (Hu et al. 2021): `Backbone.enable_lora`, the LoRA layers, saving, merging and TFLite export."""

import os

import keras
import numpy as np
import pytest

from kerasnlp_lite.export import export_tflite, run_tflite
from kerasnlp_lite.layers import FeedForward, MultiHeadAttention
from kerasnlp_lite.models import (
    AlbertBackbone,
    BartBackbone,
    BertBackbone,
    CausalLM,
    GPTBackbone,
    RobertaBackbone,
    T5Backbone,
    TextClassifier,
    TransformerSeq2Seq,
    freeze,
)
from kerasnlp_lite.models.backbone import has_lora, merge_lora
from kerasnlp_lite.saving import load_model
from tests.test_case import assert_allclose, run_layer_test

# hidden_dim 128 so the LoRA share is realistic (~1.5 r / hidden_dim of the kernels).
SMALL = dict(
    vocabulary_size=32, num_layers=2, num_heads=4, hidden_dim=128, intermediate_dim=256, max_sequence_length=16
)
RANK = 4
KEY_TOKEN = 7
# The key-token task's training run, shared by the LoRA test and its head-only control. 32 steps
# suffice: LoRA reaches held-out accuracy 1.0 (>= 0.9 asserted), the head alone ~0.56 (< 0.75 asserted).
TRAIN_EXAMPLES, TRAIN_EPOCHS = 512, 2
_TINY = dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32)
FAMILIES = {
    BertBackbone: dict(_TINY, max_sequence_length=12),
    AlbertBackbone: dict(_TINY, embedding_dim=8, max_sequence_length=12),
    RobertaBackbone: dict(_TINY, max_sequence_length=12),
    GPTBackbone: dict(_TINY, max_sequence_length=12),
    TransformerSeq2Seq: dict(_TINY, max_sequence_length=12),
    BartBackbone: dict(_TINY, max_sequence_length=12),
    T5Backbone: dict(_TINY, relative_attention_num_buckets=8, relative_attention_max_distance=16),
}


def _is_lora(weight):
    return "lora_kernel_" in weight.path


def _inputs_for(model, batch=2, length=8, vocabulary_size=40, seed=0):
    """Ids / masks for any backbone's named inputs (all real tokens)."""
    rng = np.random.default_rng(seed)
    data = {}
    for name in model.input:
        if name.endswith("padding_mask"):
            data[name] = np.ones((batch, length), "int32")
        elif name.endswith("segment_ids"):
            data[name] = np.zeros((batch, length), "int32")
        else:
            data[name] = rng.integers(1, vocabulary_size, (batch, length)).astype("int32")
    return data


def _randomize_lora_b(model, seed=0, scale=0.05):
    """B starts at zero (an unchanged model); give it values so LoRA changes the outputs."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.path.endswith("lora_kernel_b"):
            weight.assign(scale * rng.standard_normal(weight.shape).astype("float32"))


def _key_token_task(num_examples, seed, length=16):
    """Label 1 iff KEY_TOKEN occurs among the real tokens (balanced; other ids never equal it)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, length + 1, num_examples)
    mask = (np.arange(length)[None] < lengths[:, None]).astype("int32")
    ids = rng.integers(1, SMALL["vocabulary_size"] - 1, (num_examples, length))
    ids = np.where(ids >= KEY_TOKEN, ids + 1, ids)
    labels = (rng.random(num_examples) < 0.5).astype("int32")
    for i in np.flatnonzero(labels):
        ids[i, rng.integers(0, lengths[i])] = KEY_TOKEN
    ids = (ids * mask).astype("int32")
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}, labels


def _num_params(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


# --- the layers ---------------------------------------------------------------
def test_attention_layer_with_lora_basics():
    # B starts at zero, so the first step's gradient of A, x^T (g B^T), is zero:
    # A only moves from the second step on.
    run_layer_test(
        MultiHeadAttention,
        init_kwargs={"num_heads": 2, "lora_rank": 2, "lora_alpha": 4},
        input_data={"query": np.random.default_rng(0).standard_normal((2, 5, 8)).astype("float32")},
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=12,  # 4 biases + (A, B) x 4 kernels
        expected_num_non_trainable_weights=4,  # the frozen q/k/v/o kernels
        frozen_weights_ok=("lora_kernel_a",),
    )


def test_feed_forward_with_lora_basics():
    run_layer_test(
        FeedForward,
        init_kwargs={"intermediate_dim": 16, "lora_rank": 2, "lora_alpha": 4},
        input_data={"inputs": np.random.default_rng(0).standard_normal((2, 5, 8)).astype("float32")},
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=6,  # 2 biases + (A, B) x 2 kernels
        expected_num_non_trainable_weights=2,
        frozen_weights_ok=("lora_kernel_a",),
    )


def test_attention_lora_is_kernel_plus_scaled_product():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    x = np.random.default_rng(0).standard_normal((2, 4, 6)).astype("float32")
    layer(x)
    layer.enable_lora(2, lora_alpha=6)
    _randomize_lora_b(layer, scale=0.5)
    a, b = layer.query_lora_kernel_a.numpy(), layer.query_lora_kernel_b.numpy()
    assert a.shape == (6, 2) and b.shape == (2, 2 * 3)  # [D, r], [r, N*H]
    expected = layer.query_kernel.numpy() + 3.0 * (a @ b).reshape(6, 2, 3)
    assert_allclose(layer.effective_kernel("query"), expected, atol=1e-6)
    assert layer.output_lora_kernel_a.shape == (2 * 3, 2)  # output kernel [N, V, D] as [N*V, D]
    assert not layer.query_kernel.trainable and layer.query_bias.trainable  # as Keras' Dense.enable_lora


def test_bad_lora_arguments():
    backbone = BertBackbone(**FAMILIES[BertBackbone])
    for rank in (0, -1, 2.5, True, "4", None):
        with pytest.raises(ValueError, match="`rank`"):
            backbone.enable_lora(rank)
    with pytest.raises(ValueError, match="`lora_alpha`"):
        backbone.enable_lora(2, lora_alpha=0)
    backbone.enable_lora(2)
    with pytest.raises(ValueError, match="already enabled"):
        backbone.enable_lora(2)
    with pytest.raises(ValueError, match="`rank`"):
        MultiHeadAttention(num_heads=2, lora_rank=0)
    with pytest.raises(ValueError, match="without `lora_rank`"):
        FeedForward(8, lora_alpha=4)
    with pytest.raises(ValueError, match="before it is built"):
        MultiHeadAttention(num_heads=2).enable_lora(2)
    ffn = FeedForward(8)
    ffn(np.zeros((1, 2, 4), "float32"))
    ffn.enable_lora(2)
    with pytest.raises(ValueError, match="already enabled"):
        ffn.enable_lora(2)
    with pytest.raises(ValueError, match="no LoRA-enabled layer"):
        merge_lora(BertBackbone(**FAMILIES[BertBackbone]))


# --- every backbone family ----------------------------------------------------
@pytest.mark.parametrize("backbone_cls", list(FAMILIES), ids=lambda cls: cls.__name__)
def test_enable_lora_on_every_backbone(backbone_cls):
    keras.utils.set_random_seed(0)
    backbone = backbone_cls(**FAMILIES[backbone_cls], dropout=0.0)
    data = _inputs_for(backbone)
    before = keras.tree.map_structure(np.asarray, backbone(data))
    backbone.enable_lora(2)
    layers = list(backbone._flatten_layers(include_self=False))
    num_attention = sum(isinstance(layer, MultiHeadAttention) for layer in layers)
    num_ffn = sum(isinstance(layer, FeedForward) for layer in layers)
    assert num_attention >= 1 and num_ffn >= 1
    trainable = backbone.trainable_weights
    assert all(_is_lora(w) for w in trainable), [w.path for w in trainable if not _is_lora(w)]
    assert len(trainable) == 8 * num_attention + 4 * num_ffn
    # B = 0: the model is unchanged until it trains.
    keras.tree.map_structure(lambda a, b: assert_allclose(a, b, atol=1e-6), backbone(data), before)
    rebuilt = backbone_cls.from_config(backbone.get_config())
    assert rebuilt.lora_rank == 2 and len(rebuilt.trainable_weights) == len(trainable)


def test_lora_under_mixed_precision():
    keras.utils.set_random_seed(0)
    kwargs = dict(FAMILIES[BertBackbone], dropout=0.0)
    reference = BertBackbone(**kwargs)
    reference.enable_lora(2)
    _randomize_lora_b(reference, scale=0.5)
    data = _inputs_for(reference)
    expected = reference(data)["pooled_output"]
    assert np.max(np.abs(np.asarray(expected) - np.asarray(BertBackbone(**kwargs)(data)["pooled_output"]))) > 0
    for policy, atol in (("mixed_float16", 1e-2), ("mixed_bfloat16", 0.1)):
        mixed = BertBackbone(**kwargs, dtype=policy)
        mixed.enable_lora(2)
        mixed.set_weights(reference.get_weights())
        assert all(w.dtype == "float32" for w in mixed.weights)  # LoRA factors too
        out = mixed(data)
        assert keras.backend.standardize_dtype(out["sequence_output"].dtype) == keras.DTypePolicy(policy).compute_dtype
        assert_allclose(keras.ops.cast(out["pooled_output"], "float32"), expected, atol=atol)
    # One training step under mixed_float16 (loss scaling): finite, only LoRA and the head move.
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(**kwargs, dtype="mixed_float16")
    classifier = TextClassifier(backbone, num_classes=2, dropout=0.0)
    backbone.enable_lora(2)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = {w.path: w.numpy().copy() for w in classifier.weights}
    history = classifier.fit(data, np.array([0, 1]), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    trainable = {w.path for w in classifier.trainable_weights}
    for weight in classifier.weights:
        if weight.path not in trainable:
            np.testing.assert_array_equal(weight.numpy(), before[weight.path], err_msg=weight.path)
    assert any(not np.array_equal(w.numpy(), before[w.path]) for w in classifier.trainable_weights if _is_lora(w))


# --- BERT: fine-tune with LoRA, save, merge, export ---------------------------
@pytest.fixture(scope="module")
def lora_run():
    """A small BERT TextClassifier fine-tuned with LoRA rank 4 on the key-token task."""
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(**SMALL, dropout=0.0)
    classifier = TextClassifier(backbone, num_classes=2, dropout=0.0)
    total = classifier.count_params()
    backbone.enable_lora(RANK)
    classifier.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, y = _key_token_task(TRAIN_EXAMPLES, seed=0)
    x_test, y_test = _key_token_task(512, seed=1)
    before = {w.path: w.numpy().copy() for w in classifier.weights}
    classifier.fit(x, y, batch_size=32, epochs=TRAIN_EPOCHS, verbose=0)
    accuracy = float(np.mean(np.argmax(classifier.predict(x_test, verbose=0), -1) == y_test))
    return dict(classifier=classifier, total=total, before=before, x_test=x_test, y_test=y_test, accuracy=accuracy)


@pytest.mark.slow
def test_lora_trains_few_parameters_and_learns(lora_run):
    classifier, before = lora_run["classifier"], lora_run["before"]
    trainable = classifier.trainable_weights
    head = [w for w in trainable if not _is_lora(w)]
    assert {w.path.split("/")[0] for w in head} == {"classifier_head"}  # the head still trains
    assert len(trainable) - len(head) == SMALL["num_layers"] * (4 * 2 + 2 * 2)
    fraction = _num_params(trainable) / lora_run["total"]
    print(f"LoRA rank {RANK}: {_num_params(trainable)} of {lora_run['total']} parameters train ({fraction:.2%})")
    assert 0.01 < fraction < 0.08
    trainable_paths = {w.path for w in trainable}
    for weight in classifier.weights:
        moved = not np.array_equal(before[weight.path], weight.numpy())
        if weight.path in trainable_paths:
            assert moved, f"trainable {weight.path} did not move"
        else:
            assert not moved, f"frozen {weight.path} moved"
    print(f"key-token task, held-out accuracy with LoRA: {lora_run['accuracy']:.3f}")
    assert lora_run["accuracy"] >= 0.9


@pytest.mark.slow
def test_head_alone_does_not_learn_the_task():
    # The control for the test above: the same frozen random backbone, training only the head.
    keras.utils.set_random_seed(0)
    classifier = TextClassifier(BertBackbone(**SMALL, dropout=0.0), num_classes=2, dropout=0.0)
    freeze(classifier)
    classifier.compile(optimizer=keras.optimizers.Adam(3e-3))
    x, y = _key_token_task(TRAIN_EXAMPLES, seed=0)
    x_test, y_test = _key_token_task(512, seed=1)
    classifier.fit(x, y, batch_size=32, epochs=TRAIN_EPOCHS, verbose=0)
    accuracy = float(np.mean(np.argmax(classifier.predict(x_test, verbose=0), -1) == y_test))
    print(f"key-token task, held-out accuracy training the head only: {accuracy:.3f}")
    assert accuracy < 0.75


@pytest.mark.slow
def test_keras_round_trip_keeps_lora(lora_run, tmp_path):
    classifier, x_test = lora_run["classifier"], lora_run["x_test"]
    path = str(tmp_path / "lora_classifier.keras")
    classifier.save(path)
    loaded = load_model(path)
    expected = classifier.predict(x_test, verbose=0)
    diff = float(np.max(np.abs(loaded.predict(x_test, verbose=0) - expected)))
    print(f".keras round trip max |diff| = {diff:.3g}")
    assert diff <= 1e-6
    assert loaded.backbone.lora_rank == RANK and has_lora(loaded)
    assert [w.path for w in loaded.trainable_weights] == [w.path for w in classifier.trainable_weights]
    # The factors and the frozen base kernels come back as they were (Keras' Dense alone
    # would save the merged kernel and zero A and B).
    for original, restored in zip(classifier.weights, loaded.weights):
        np.testing.assert_array_equal(restored.numpy(), original.numpy(), err_msg=restored.path)
    with pytest.raises(ValueError, match="already enabled"):
        loaded.backbone.enable_lora(RANK)
    # Training resumes: A gets gradients again (it would not with A = B = 0).
    a = next(w for w in loaded.trainable_weights if w.path.endswith("query_lora_kernel_a"))
    a_before = a.numpy().copy()
    loaded.fit({k: v[:32] for k, v in x_test.items()}, lora_run["y_test"][:32], verbose=0)
    assert not np.array_equal(a.numpy(), a_before)


@pytest.mark.slow
def test_merge_lora_gives_plain_equal_model(lora_run):
    classifier, x_test = lora_run["classifier"], lora_run["x_test"]
    merged = merge_lora(classifier)
    assert type(merged) is TextClassifier and not has_lora(merged) and has_lora(classifier)
    assert "lora_rank" not in merged.backbone.get_config()
    assert not any(_is_lora(w) for w in merged.weights)
    assert len(merged.trainable_weights) == len(merged.weights)
    assert merged.count_params() == lora_run["total"]
    diff = float(np.max(np.abs(merged.predict(x_test, verbose=0) - classifier.predict(x_test, verbose=0))))
    print(f"merge_lora max |diff| = {diff:.3g}")
    assert diff <= 1e-6


@pytest.fixture(scope="module")
def exported(lora_run, tmp_path_factory):
    """The file's one TFLite conversion: the LoRA classifier through `export_tflite` (merges it)."""
    path = str(tmp_path_factory.mktemp("lora_tflite") / "classifier.tflite")
    report = export_tflite(lora_run["classifier"], path, signatures=["serving_default"])
    return path, report


@pytest.mark.slow
@pytest.mark.tflite
def test_merged_tflite_export_equals_lora_model(lora_run, exported):
    path, report = exported
    classifier = lora_run["classifier"]
    # Merged weights, not kernel + A @ B at run time: only the 2 attention products per
    # block remain batched matmuls (unmerged, each of the 4 projections adds one more).
    assert report.ops.get("BATCH_MATMUL", 0) == 2 * SMALL["num_layers"], report.ops
    with open(path, "rb") as f:
        content = f.read()
    worst = report.max_abs_diff["serving_default"]
    for i in range(8):
        sample = {k: v[i : i + 1] for k, v in lora_run["x_test"].items()}
        got = run_tflite(content, sample, signature_key="serving_default")["logits"]
        worst = max(worst, float(np.max(np.abs(got - np.asarray(classifier(sample))))))
    print(f"merged TFLite vs LoRA Keras max |diff| = {worst:.3g}, {os.path.getsize(path)} bytes")
    assert worst <= 1e-5


# --- GPT ----------------------------------------------------------------------
def test_gpt_causal_lm_with_lora(tmp_path):
    keras.utils.set_random_seed(0)
    lm = CausalLM(GPTBackbone(**FAMILIES[GPTBackbone], dropout=0.0))
    lm.backbone.enable_lora(2)
    # The LM head is the tied token table: only the LoRA factors train.
    assert all(_is_lora(w) for w in lm.trainable_weights) and len(lm.trainable_weights) == 2 * 12
    _randomize_lora_b(lm, scale=0.5)
    x = _inputs_for(lm, length=8)
    logits = np.asarray(lm(x))
    # The cached decode path uses the LoRA kernels too.
    prompt = x["token_ids"][:1, :3]
    cached = lm.generate(prompt, max_length=8, sampler="greedy", use_cache=True)["token_ids"]
    uncached = lm.generate(prompt, max_length=8, sampler="greedy", use_cache=False)["token_ids"]
    np.testing.assert_array_equal(cached, uncached)
    merged = merge_lora(lm)
    assert_allclose(np.asarray(merged(x)), logits, atol=1e-5)
    np.testing.assert_array_equal(merged.generate(prompt, max_length=8, sampler="greedy")["token_ids"], cached)
    path = str(tmp_path / "lm.keras")
    lm.save(path)
    loaded = load_model(path)
    assert loaded.backbone.lora_rank == 2
    np.testing.assert_array_equal(np.asarray(loaded(x)), logits)
    lm.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = {w.path: w.numpy().copy() for w in lm.weights}
    # B is non-zero, so one step already gives every LoRA factor (A too) a gradient.
    lm.fit(x, np.roll(x["token_ids"], -1, axis=1), epochs=1, verbose=0)
    for weight in lm.weights:
        moved = not np.array_equal(before[weight.path], weight.numpy())
        assert moved == _is_lora(weight), weight.path
