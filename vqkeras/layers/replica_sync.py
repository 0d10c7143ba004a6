"""Batch statistics across data-parallel replicas.

Under `tf.distribute` (for instance `MirroredStrategy`) every replica runs
the training step on its own shard of the global batch, so a layer that
keeps running statistics (the quantizer's EMA codebook) has to combine the
shards itself. Under JAX with `keras.distribution.DataParallel` the jitted
step sees the whole (sharded) global batch, so nothing needs combining. These
helpers are the identity everywhere except inside a TensorFlow replica
context with more than one replica, which keeps single-device results
bit for bit unchanged.
"""
import keras
from keras import ops


def _replica_context():
    """The active TensorFlow replica context when it has more than one
    replica, else None (other backends, no strategy, cross-replica code)."""
    if keras.backend.backend() != "tensorflow":
        return None
    from vqkeras.tf_guard import import_tensorflow

    tf = import_tensorflow()
    if not tf.distribute.has_strategy():
        return None
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync < 2:
        return None
    return context


def num_replicas_in_sync():
    """Number of replicas sharing the current training step (1 outside a
    TensorFlow multi-replica context)."""
    context = _replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def sum_across_replicas(values):
    """Sum of a tensor (or a tuple/list of tensors) over all replicas, the
    same on every replica; identity outside a multi-replica context."""
    context = _replica_context()
    if context is None:
        return values
    return context.all_reduce("sum", values)


def gather_across_replicas(values):
    """Rows of every replica's tensor (or tuple/list of tensors), concatenated
    along axis 0 in replica order, the same on every replica; identity
    outside a multi-replica context. No gradient flows through the gathered
    rows (they feed state updates only)."""
    context = _replica_context()
    if context is None:
        return values
    single = not isinstance(values, (tuple, list))
    parts = [values] if single else list(values)
    gathered = [ops.stop_gradient(context.all_gather(ops.stop_gradient(v), axis=0))
                for v in parts]
    return gathered[0] if single else type(values)(gathered)


def scale_loss_for_replicas(loss):
    """The per-replica share of a loss whose gradients the optimizer sums
    over replicas (loss / number of replicas); identity outside a
    multi-replica context. A model that overrides `compute_loss` returns
    this, so that data-parallel steps follow the global-batch gradient."""
    replicas = num_replicas_in_sync()
    if replicas == 1:
        return loss
    return loss * (1.0 / replicas)
