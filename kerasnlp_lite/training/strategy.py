"""Choosing a `tf.distribute` strategy: one name from a laptop CPU to a TPU pod.

The training code never branches on the strategy: it builds and compiles the
model inside `strategy.scope()` and lets Keras `fit` distribute the data, so
the same command runs under any of the strategies returned here.
"""

import json
import os

import tensorflow as tf

STRATEGY_KINDS = ("auto", "default", "mirrored", "multi_worker", "tpu")


def configure_logical_cpus(count):
    """Splits the host CPU into `count` logical devices (for MirroredStrategy on one CPU).

    Must run before TensorFlow creates any tensor: afterwards the runtime is
    initialized and TF raises RuntimeError, which is passed on with a hint.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"`count` must be a positive int, got {count!r}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        raise RuntimeError(
            "Logical CPU devices must be configured before TensorFlow creates any tensor "
            "(do it first thing in the process)."
        ) from error


def tf_config_cluster():
    """The cluster spec of `TF_CONFIG` (a dict of job name -> addresses), or None when unset."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {raw[:200]!r}") from error
    cluster = config.get("cluster") or None
    if cluster is not None and "task" not in config:
        raise ValueError("TF_CONFIG names a cluster but no `task` ({'type': 'worker', 'index': i}).")
    return cluster


def _num_cluster_tasks(cluster):
    return sum(len(cluster.get(job, [])) for job in ("chief", "worker"))


def _tpu_strategy(tpu):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _find_tpu(tpu):
    """A TPU resolver when one is found, else None.

    Without a TPU, `TPUClusterResolver()` raises ValueError at once (measured
    with TF 2.20); it only looks at the environment (Cloud TPU VM metadata,
    `TPU_NAME`), it does not connect.
    """
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    except (ValueError, tf.errors.NotFoundError):
        return None


def _local_devices():
    gpus = tf.config.list_logical_devices("GPU")
    return gpus if gpus else tf.config.list_logical_devices("CPU")


def get_strategy(kind="auto", tpu=None):
    """Returns a `tf.distribute.Strategy`.

    Args:
        kind: one of
            - `"auto"`: TPU when a TPU resolver finds one (or `tpu` is
              given), then `MultiWorkerMirroredStrategy` when `TF_CONFIG`
              names a cluster of more than one task, then `MirroredStrategy`
              when there are several local devices (GPUs, or logical CPUs from
              `configure_logical_cpus`), else the default strategy.
            - `"default"`: the default (no-op, one device) strategy.
            - `"mirrored"`: `MirroredStrategy` over the local GPUs, or over
              the logical CPUs when there is no GPU.
            - `"multi_worker"`: `MultiWorkerMirroredStrategy` from `TF_CONFIG`
              (a single-worker cluster when it is unset).
            - `"tpu"`: `TPUStrategy`; connects to `tpu` and initializes it.
        tpu: TPU name or address for `TPUClusterResolver` (`"local"` on a TPU
            VM); None lets the resolver look at the environment.

    Returns:
        The strategy. Build and compile models inside `strategy.scope()`.
    """
    if kind not in STRATEGY_KINDS:
        raise ValueError(f"`kind` must be one of {STRATEGY_KINDS}, got {kind!r}.")
    if tpu is not None and kind not in ("auto", "tpu"):
        raise ValueError(f"`tpu`={tpu!r} only applies to kind='tpu' or 'auto', got kind={kind!r}.")
    if kind == "tpu":
        return _tpu_strategy(tpu)
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy([d.name for d in _local_devices()])
    if kind == "multi_worker":
        tf_config_cluster()  # fail early on a malformed TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    # auto
    if tpu is not None or _find_tpu(None) is not None:
        return _tpu_strategy(tpu)
    cluster = tf_config_cluster()
    if cluster is not None and _num_cluster_tasks(cluster) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = _local_devices()
    if len(devices) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def is_chief():
    """True on the worker that writes shared outputs (TensorBoard, final model).

    Without `TF_CONFIG`, or on the `chief` task, or on worker 0 when the
    cluster has no chief (the `MultiWorkerMirroredStrategy` convention).
    """
    cluster = tf_config_cluster()
    if not cluster:
        return True
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    if task.get("type") == "chief":
        return True
    return "chief" not in cluster and task.get("type") == "worker" and int(task.get("index", 0)) == 0


def task_id():
    """The index of this worker in `TF_CONFIG` (0 without one)."""
    cluster = tf_config_cluster()
    if not cluster:
        return 0
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    return int(task.get("index", 0)) + (1 if task.get("type") == "worker" and "chief" in cluster else 0)
