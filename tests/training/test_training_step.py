"""The train step under XLA (the TPU proxy we can run here) and under mixed_bfloat16."""

import numpy as np
import pytest

from kerasnlp_lite.training import TrainConfig, get_strategy, train

pytestmark = pytest.mark.slow

TINY = dict(
    global_batch_size=8, sequence_length=32, vocabulary_size=300, max_documents=300, warmup_steps=1,
    learning_rate=1e-3, dropout=0.0, verbose=0,
)


@pytest.mark.parametrize("preset", ["gpt2_tiny", "bert_tiny"])
def test_train_step_compiles_with_xla(tmp_path, preset):
    losses = {}
    for jit in (True, False):
        config = TrainConfig(model=preset, steps=2, checkpoint_every=2, jit_compile=jit, out=str(tmp_path / str(jit)), **TINY)
        result = train(config, strategy=get_strategy("default"))
        assert result.model.jit_compile is jit
        losses[jit] = result.history["loss"][0]
    print(f"{preset}: loss with XLA {losses[True]:.6f}, without {losses[False]:.6f}")
    assert np.isfinite(losses[True])
    # The same two steps: XLA fuses differently, so equal up to float32 rounding.
    assert abs(losses[True] - losses[False]) <= 1e-4, losses


def test_mixed_bfloat16_trains_and_loss_falls(tmp_path):
    def run(dtype):
        config = TrainConfig(
            model="gpt2_tiny", steps=40, checkpoint_every=10, dtype=dtype, out=str(tmp_path / dtype),
            **dict(TINY, learning_rate=3e-3, warmup_steps=5),
        )
        return train(config, strategy=get_strategy("default"))

    result = run("mixed_bfloat16")
    block = result.model.backbone.decoder_blocks[0]
    assert block.compute_dtype == "bfloat16" and block.variable_dtype == "float32"
    assert all(w.dtype == "float32" for w in result.model.weights)
    losses = result.history["loss"]  # mean loss of each 10-step epoch
    print("mixed_bfloat16 epoch losses:", [round(x, 3) for x in losses])
    assert np.all(np.isfinite(losses))
    # ln(300) = 5.70 at the start; the first epoch's mean is already below it.
    assert losses[-1] < 0.9 * losses[0], losses
    reference = run("float32").history["loss"]
    print("float32 epoch losses:", [round(x, 3) for x in reference])
    assert abs(losses[-1] - reference[-1]) < 0.1, (losses, reference)
