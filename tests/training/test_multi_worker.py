"""MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 train to identical weights.

The test starts both workers (with `TF_CONFIG`) inside a private network
namespace, so the gRPC servers, which bind 0.0.0.0, are reachable from
nowhere else; it skips when `unshare -rn` is not permitted here. The whole
process group is killed when the test ends, whatever happens.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.training._processes import HERE, max_weight_diff, run_process, weights

pytestmark = pytest.mark.slow

TIMEOUT = 240


def _private_network_namespace():
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs `unshare` and `ip` (util-linux, iproute2) for a private network namespace"
    try:
        probe = subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`unshare -rn` failed: {error}"
    if probe.returncode != 0:
        return f"`unshare -rn` is not permitted here ({probe.stderr.decode()[:200].strip()}); not listening on 0.0.0.0"
    return None


def test_two_workers_train_five_steps_to_identical_weights(tmp_path):
    reason = _private_network_namespace()
    if reason:
        pytest.skip(reason)
    spec = {
        "config": dict(
            model="gpt2_tiny", steps=5, checkpoint_every=5, global_batch_size=8, sequence_length=32,
            vocabulary_size=300, max_documents=300, warmup_steps=1, learning_rate=5e-3, dropout=0.0, verbose=0,
            out=str(tmp_path / "run"),
        ),
        "output": str(tmp_path / "result.npz"),
        "strategies": ["multi_worker"],
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    launcher = f"{sys.executable} {os.path.join(HERE, '_multi_worker_launcher.py')} {spec_path} {TIMEOUT - 20}"
    code, output = run_process(["unshare", "-rn", "sh", "-c", f"ip link set lo up && exec {launcher}"], TIMEOUT)
    assert code == 0, output[-4000:]
    results = [dict(np.load(tmp_path / f"result_worker{i}.npz")) for i in range(2)]
    for result in results:
        assert int(result["multi_worker/replicas"]) == 2  # one replica per worker, two in sync
        assert int(result["multi_worker/iterations"]) == 5
    diff = max_weight_diff(weights(results[0], "multi_worker"), weights(results[1], "multi_worker"))
    moved = max_weight_diff(weights(results[0], "multi_worker", "initial"), weights(results[0], "multi_worker"))
    print(f"multi-worker: weight diff between workers {diff:.2e}, moved {moved:.2e}")
    assert diff == 0.0, diff  # the same all-reduced update is applied on both workers
    assert moved > 1e-3, moved
    # Worker 0 is the chief: it alone writes the final model; each worker had its own backup directory.
    assert os.path.exists(tmp_path / "run" / "model.keras")
