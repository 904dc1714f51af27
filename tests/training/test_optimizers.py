"""WarmupDecay values, BERT's weight-decay exclusions, and that AdamW applies them."""

import keras
import numpy as np
import pytest

from kerasnlp_lite.models import BertBackbone, BertPretrainer
from kerasnlp_lite.training import WarmupDecay, create_optimizer, no_weight_decay_variables


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_warmup_then_decay_values(decay):
    schedule = WarmupDecay(1e-3, warmup_steps=10, decay_steps=90, decay=decay, end_learning_rate=1e-4)
    lr = lambda step: float(schedule(step))  # noqa: E731
    assert lr(0) == 0.0
    assert lr(5) == pytest.approx(5e-4)
    assert lr(10) == pytest.approx(1e-3)
    half = {"linear": 1e-4 + 0.9e-3 * 0.5, "cosine": 1e-4 + 0.9e-3 * 0.5}[decay]
    assert lr(55) == pytest.approx(half, rel=1e-5)
    quarter = {"linear": 1e-4 + 0.9e-3 * 0.75, "cosine": 1e-4 + 0.9e-3 * (1 + np.cos(np.pi / 4)) / 2}[decay]
    assert lr(32.5) == pytest.approx(quarter, rel=1e-5)
    assert lr(100) == pytest.approx(1e-4) and lr(1000) == pytest.approx(1e-4)
    assert WarmupDecay.from_config(schedule.get_config()).get_config() == schedule.get_config()


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="decay"):
        WarmupDecay(1e-3, 10, 90, decay="step")
    with pytest.raises(ValueError, match="end_learning_rate"):
        WarmupDecay(1e-3, 10, 90, end_learning_rate=1e-2)
    with pytest.raises(ValueError, match="decay_steps"):
        WarmupDecay(1e-3, 10, 0)


def _tiny_bert():
    return BertPretrainer(
        BertBackbone.from_preset("bert_tiny", vocabulary_size=50, max_sequence_length=8, num_layers=1),
        next_sentence=False,
    )


def test_no_weight_decay_variables_are_biases_and_layer_norms():
    model = _tiny_bert()
    excluded = {v.path for v in no_weight_decay_variables(model)}
    assert "embeddings/layer_norm/gamma" in excluded and "embeddings/layer_norm/beta" in excluded
    assert "encoder_block_0/self_attention_norm/gamma" in excluded
    assert "encoder_block_0/self_attention/query_bias" in excluded
    assert "encoder_block_0/feed_forward/intermediate_dense/bias" in excluded
    assert "mlm_head/output_bias" in excluded and "mlm_head/layer_norm/beta" in excluded
    decayed = {v.path for v in model.trainable_weights} - excluded
    assert "embeddings/token_embedding/embeddings" in decayed
    assert "encoder_block_0/self_attention/query_kernel" in decayed
    assert all(not p.endswith(("bias", "gamma", "beta")) for p in decayed), decayed


def test_adamw_decays_kernels_only():
    model = _tiny_bert()
    optimizer = create_optimizer(model, learning_rate=0.1, total_steps=10, warmup_steps=0, weight_decay=0.5)
    variables = model.trainable_weights
    before = [np.array(v.numpy()) for v in variables]
    # Zero gradients: Adam's step is 0, so any change is the decoupled decay w <- w (1 - lr * wd).
    optimizer.apply([keras.ops.zeros(v.shape) for v in variables], variables)
    excluded = {id(v) for v in no_weight_decay_variables(model)}
    for variable, old in zip(variables, before):
        new = variable.numpy()
        if id(variable) in excluded:
            np.testing.assert_array_equal(new, old, err_msg=variable.path)
        else:
            np.testing.assert_allclose(new, old * (1 - 0.1 * 0.5), rtol=1e-6, err_msg=variable.path)


def test_global_norm_clipping_and_loss_scaling():
    model = _tiny_bert()
    optimizer = create_optimizer(model, 1e-3, total_steps=10, global_clipnorm=1.0)
    assert optimizer.global_clipnorm == 1.0
    scaled = create_optimizer(model, 1e-3, total_steps=10, loss_scale=True)
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
    with pytest.raises(ValueError, match="total_steps"):
        create_optimizer(model, 1e-3, total_steps=5, warmup_steps=5)


@pytest.mark.parametrize("kwargs, name", [
    (dict(learning_rate=-0.1), "learning_rate"), (dict(learning_rate=float("nan")), "learning_rate"),
    (dict(weight_decay=-1.0), "weight_decay"),
])
def test_adamw_refuses_negative_rates(kwargs, name):
    from kerasnlp_lite.training.optimizers import AdamW

    with pytest.raises(ValueError, match=f"`{name}`"):
        AdamW(**kwargs)
    AdamW(learning_rate=1e-3, weight_decay=0.0)  # good values pass
