"""The ``tf.distribute`` strategy of a run: one per process, created before TensorFlow runs anything.

``MultiWorkerMirroredStrategy`` configures TensorFlow's collective ops, which TensorFlow only
allows at program start-up (before its eager context exists): created inside a trial, after the
data was prepared, it fails with "Collective ops must be configured at program startup". So the
``run`` command checks ``TF_CONFIG`` (:func:`worker_info`, cheap, no TensorFlow) and calls
:func:`start` right after its argument checks, before any dataset or model; every trial then
reuses that strategy (:func:`get`).

With ``multiworker`` every worker trains and evaluates every trial in step (the gradients are
all-reduced every step); the chief (``task.type`` ``chief``, or worker 0 when the cluster has no
chief) keeps the results store, the others only compute (see :func:`chief_decisions` for how
they agree on which trials to skip).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

STRATEGY_NAMES = ("mirrored", "multiworker")
TF_CONFIG_EXAMPLE = ('{"cluster": {"worker": ["hostA:12345", "hostB:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}')

_strategies: dict[str, object] = {}


@dataclass(frozen=True)
class WorkerInfo:
    """This process's place in a multi-worker cluster (from ``TF_CONFIG``)."""
    task_type: str
    index: int
    num_workers: int  # chief + workers
    is_chief: bool

    def describe(self) -> str:
        role = "the chief" if self.is_chief else "not the chief"
        return f"{self.task_type} {self.index} of {self.num_workers}, {role}"


def _check_address(addr, where: str) -> None:
    if not isinstance(addr, str) or ":" not in addr:
        raise ValueError(f"TF_CONFIG {where} entry {addr!r} is not a 'host:port' string")
    port = addr.rsplit(":", 1)[1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"TF_CONFIG {where} entry {addr!r} has no valid port (1-65535)")


def worker_info(environ=None) -> WorkerInfo:
    """Parse and check ``TF_CONFIG`` for ``--strategy multiworker``; a ValueError naming the
    problem when it is missing or malformed. Cheap: does not import TensorFlow."""
    env = os.environ if environ is None else environ
    text = env.get("TF_CONFIG", "")
    hint = f"; set it on every worker, e.g. TF_CONFIG='{TF_CONFIG_EXAMPLE}'"
    if not text.strip():
        raise ValueError(f"--strategy multiworker needs the TF_CONFIG environment variable, which is not set{hint}")
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON ({exc.msg} at character {exc.pos}){hint}") from None
    if not isinstance(conf, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task'{hint}")
    cluster, task = conf.get("cluster"), conf.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(f"TF_CONFIG has no 'cluster' object listing the workers{hint}")
    unknown = sorted(set(cluster) - {"chief", "worker"})
    if unknown:
        raise ValueError(f"TF_CONFIG cluster has job(s) {', '.join(map(repr, unknown))}; "
                         "--strategy multiworker accepts 'chief' and 'worker' only")
    for job, addrs in cluster.items():
        if not isinstance(addrs, list) or not addrs:
            raise ValueError(f"TF_CONFIG cluster '{job}' must be a non-empty list of 'host:port' strings")
        for addr in addrs:
            _check_address(addr, f"cluster '{job}'")
    if len(cluster.get("chief", [])) > 1:
        raise ValueError("TF_CONFIG cluster 'chief' lists more than one address; a cluster has one chief")
    everyone = _addresses(cluster)
    if len(set(everyone)) != len(everyone):
        raise ValueError("TF_CONFIG cluster lists the same 'host:port' twice; every worker needs its own port")
    if not isinstance(task, dict):
        raise ValueError(f"TF_CONFIG has no 'task' object saying which worker this is{hint}")
    task_type, index = task.get("type"), task.get("index", 0)
    if task_type not in cluster:
        raise ValueError(f"TF_CONFIG task type {task_type!r} is not a job of the cluster "
                         f"({', '.join(map(repr, cluster))})")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task_type]):
        raise ValueError(f"TF_CONFIG task index {index!r} is not in 0..{len(cluster[task_type]) - 1} "
                         f"(the cluster's '{task_type}' list)")
    is_chief = task_type == "chief" or ("chief" not in cluster and index == 0)
    return WorkerInfo(task_type, index, len(everyone), is_chief)


class WorkersMissing(RuntimeError):
    """Not every worker in ``TF_CONFIG`` connected within the time given to :func:`start`."""


def _register_deadline(timeout_s: float) -> None:
    """Ask TensorFlow's coordination service (which ``MultiWorkerMirroredStrategy`` starts, and
    keeps when one is configured) to give up when not every task of the cluster has registered
    within ``timeout_s``: the same service, leader and jobs the strategy would configure, with a
    registration deadline, enforced at a start-up barrier (without the barrier TensorFlow ignores
    the deadline)."""
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    spec = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
    leader = multi_worker_util.coordination_leader(spec)
    jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
            for job in ("chief", "worker") if job in spec.jobs]
    ctx = context.context()
    ctx.configure_coordination_service(service_type="standalone", service_leader=leader, coordinated_jobs=jobs,
                                       cluster_register_timeout_in_ms=max(1, math.ceil(timeout_s * 1000)))
    ctx.coordination_service.cluster_register_with_barrier = True


def _create(name: str, connect_timeout: float | None = None):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=[d.name for d in tf.config.list_logical_devices("CPU")]
                                              if not tf.config.list_logical_devices("GPU") else None)
    if name == "multiworker":
        worker_info()  # a clear error for a missing or malformed TF_CONFIG
        if connect_timeout is not None:
            _register_deadline(connect_timeout)
        try:
            return _multiworker_class()()
        except tf.errors.DeadlineExceededError as exc:
            waited = "TensorFlow's registration deadline" if connect_timeout is None else f"{connect_timeout:g} s"
            raise WorkersMissing(f"--strategy multiworker: not every worker in TF_CONFIG "
                                 f"({', '.join(cluster_addresses())}) connected within {waited}; start "
                                 "the same command on every host listed there, each with its own task index, or "
                                 "wait longer with --connect-timeout") from exc
        except RuntimeError as exc:
            if "program startup" not in str(exc):
                raise
            raise RuntimeError("MultiWorkerMirroredStrategy must be created before TensorFlow runs any op: call "
                               "compare.distribute.start('multiworker') at the start of the program") from None
    raise ValueError(f"unknown strategy {name!r}; accepted: {', '.join(STRATEGY_NAMES)}")


def _multiworker_class():
    """``MultiWorkerMirroredStrategy`` with a ``reduce`` that Keras 3's ``fit`` can use across
    workers. With two or more workers, Keras 3 (3.15) reduces:

    * the first batch, an ``(x, y)`` tuple of per-replica tensors, with
      ``strategy.reduce("MEAN", batch, axis=None)`` (``_maybe_symbolic_build``): the collective
      path converts the tuple to one tensor and fails ("Attempt to convert a value (PerReplica...)
      with an unsupported type"). Here each element is reduced on its own.
    * every step's scalar logs (loss, accuracy) with ``strategy.reduce("MEAN", v, axis=0)``
      (``reduce_per_replica``), which fails for a scalar ("Invalid reduction dimension 0 for
      input with 0 dimensions"). Here a scalar is reduced across replicas (``axis=None``).

    MirroredStrategy and a one-worker MultiWorkerMirroredStrategy never take these paths.
    """
    import tensorflow as tf

    base = tf.distribute.MultiWorkerMirroredStrategy

    def rank(strategy, value):
        if isinstance(value, tf.distribute.DistributedValues):
            value = strategy.experimental_local_results(value)[0]
        return getattr(getattr(value, "shape", None), "rank", None)

    class MultiWorkerMirroredStrategy(base):
        def reduce(self, reduce_op, value, axis):
            if isinstance(value, (tuple, list, dict)):
                return tf.nest.map_structure(lambda v: base.reduce(self, reduce_op, v, axis), value)
            if axis is not None and rank(self, value) == 0:
                axis = None
            return base.reduce(self, reduce_op, value, axis)

    return MultiWorkerMirroredStrategy


def start(name: str | None, connect_timeout: float | None = None):
    """Create this process's ``name`` strategy (None: no strategy) and return it; later calls
    return the same one. For ``multiworker`` call it before TensorFlow runs any op.

    Creating ``multiworker`` waits until every worker in ``TF_CONFIG`` has registered with the
    chief; TensorFlow's own limit is an hour, spent in C++ where no Python signal handler runs.
    With ``connect_timeout`` (seconds) a worker that has not connected by then raises
    :class:`WorkersMissing` instead."""
    if name is None:
        return None
    if name not in _strategies:
        _strategies[name] = _create(name, connect_timeout)
    return _strategies[name]


def cluster_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says that a worker of the multi-worker cluster is gone (its heartbeat
    stopped, or the collectives were aborted): TensorFlow's collectives cannot be used again in
    this process, so the remaining trials cannot run either."""
    text = str(exc)
    return type(exc).__name__ == "UnavailableError" or "Collective ops is aborted" in text \
        or "Restart your program to reset" in text


def _addresses(cluster: dict) -> list[str]:
    return [a for job in ("chief", "worker") for a in cluster.get(job, [])]


def cluster_addresses(environ=None) -> list[str]:
    """Every worker's ``host:port`` in ``TF_CONFIG`` (chief first), for messages."""
    return _addresses(json.loads((os.environ if environ is None else environ)["TF_CONFIG"])["cluster"])


get = start  # the trials' accessor: the strategy created at start-up, or a new one (mirrored)


def chief_decisions(strategy, flags: list[bool]) -> list[bool]:
    """The chief's ``flags`` (e.g. "this trial is already done") on every worker, so that every
    worker runs the same trials in step: a collective sum in which only the chief contributes.
    Every worker must call it at the same point with a list of the same length."""
    import tensorflow as tf

    if not flags:
        return []
    chief = worker_info().is_chief
    local = tf.constant([1.0 if (f and chief) else 0.0 for f in flags], tf.float32)
    zeros = tf.zeros_like(local)
    # replica 0 is the chief's first device: the cluster lists the chief (or worker 0) first
    values = strategy.experimental_distribute_values_from_function(
        lambda ctx: local if ctx.replica_id_in_sync_group == 0 else zeros)
    total = strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None)
    return [bool(v > 0.5) for v in total.numpy().tolist()]
