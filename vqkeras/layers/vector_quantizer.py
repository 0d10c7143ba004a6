"""Vector quantizer with an EMA-updated codebook."""
import keras
from keras import ops

from vqkeras.layers.replica_sync import gather_across_replicas, sum_across_replicas


def l2_normalize(x, epsilon=1e-12):
    norm = ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))
    return x / ops.maximum(norm, epsilon)


def code_scores(x, codebook, use_cosine_sim):
    """Similarity of vectors x [N, D] to codes [K, D] (higher = nearer): dot
    product (cosine on normalised inputs) or minus the Euclidean distance."""
    if use_cosine_sim:
        return ops.matmul(x, ops.transpose(codebook))
    sq = (ops.sum(ops.square(x), axis=-1, keepdims=True)
          - 2.0 * ops.matmul(x, ops.transpose(codebook))
          + ops.sum(ops.square(codebook), axis=-1)[None, :])
    return -ops.sqrt(ops.maximum(sq, 0.0))


def sample_rows(x, weights, num, noise):
    """`num` rows of x [N, D] in the random order given by `noise` [N]
    (uniform in [0, 1)), without replacement, rows of weight 1 first (rows of
    weight 0 only when nothing else is left; rows repeat only if N < num)."""
    n = ops.shape(x)[0]
    priority = noise + weights
    order = ops.argsort(-priority)
    picks = ops.mod(ops.arange(num, dtype="int32"), ops.cast(n, "int32"))
    return ops.take(x, ops.take(order, picks), axis=0)


def kmeans(samples, weights, num_clusters, num_iters, use_cosine_sim, noise):
    """k-means on weighted samples [N, D], started from samples picked by
    `noise` (see `sample_rows`); returns (means [K, D], counts [K]).
    Clusters that lose all samples keep their previous mean."""
    means = sample_rows(samples, weights, num_clusters, noise)
    counts = ops.zeros((num_clusters,), "float32")
    for _ in range(num_iters):
        buckets = ops.argmax(code_scores(samples, means, use_cosine_sim), axis=-1)
        counts = ops.segment_sum(weights, buckets, num_segments=num_clusters)
        sums = ops.segment_sum(samples * weights[:, None], buckets, num_segments=num_clusters)
        new_means = sums / ops.maximum(counts, 1.0)[:, None]
        if use_cosine_sim:
            new_means = l2_normalize(new_means)
        means = ops.where((counts == 0)[:, None], means, new_means)
    return means, counts


@keras.saving.register_keras_serializable(package="vqkeras")
class VectorQuantizer(keras.layers.Layer):
    """Nearest-code vector quantizer whose codebook follows an exponential
    moving average of the vectors assigned to each code.

    In training (`training=True`, codebook not frozen) each call updates the
    EMA state: `cluster_size` and `embed_avg` decay towards this batch's code
    counts and vector sums, and the codebook is their ratio after Laplace
    smoothing (normalised again for cosine codebooks). With `kmeans_init`, the
    first training call replaces the codebook by k-means centroids of its
    inputs. Inference never changes the state. All codebook maths are float32
    whatever the compute dtype. Padded frames (mask 0) count nowhere.

    Data-parallel training keeps one codebook: under `tf.distribute` the code
    counts and vector sums of every replica's shard are summed before the
    EMA, k-means and dead-code replacement draw from the rows of all shards
    (gathered in replica order, so every replica computes the same codes),
    and the state variables keep the first replica's value
    (`aggregation="only_first_replica"`). Under JAX with `DataParallel` the
    step already sees the global batch.

    Args:
        codebook_size: int. Number of codes K. Defaults to 2048.
        codebook_dim: int. Code dimension D. Defaults to 32.
        use_cosine_sim: bool. Normalise inputs and codes and pick the code of
            highest cosine similarity; otherwise the nearest in Euclidean
            distance. Defaults to `True`.
        decay: float. EMA decay. Defaults to 0.8.
        eps: float. Laplace smoothing constant. Defaults to 1e-5.
        kmeans_init: bool. Initialise the codebook by k-means on the first
            training batch. Defaults to `True`.
        kmeans_iters: int. k-means iterations. Defaults to 10.
        threshold_ema_dead_code: float. Codes whose EMA cluster size falls
            below this are replaced by random vectors of the current batch;
            0 disables it. Defaults to 0.
        commitment_weight: float. Weight of the commitment loss in the
            returned `commitment_loss`. Defaults to 1.
        freeze_codebook: bool. Never update the codebook. Defaults to `False`.
        seed: int or None. Seed for k-means sampling and dead-code
            replacement. Defaults to `None`.

    Call arguments:
        inputs: float tensor [batch, time, D].
        mask: optional float tensor [batch, time], 1 for valid frames.
        target_indices: optional int tensor [batch, time]; when given, the
            output also holds `cross_entropy`, the cross-entropy of the code
            scores (used as logits) against these indices.
        update_mask: optional float tensor [batch], 1 for the items whose
            frames may update the codebook (EMA, k-means, dead codes); items
            with 0 are quantized but never move the codebook. Defaults to
            every item.
        training: bool.

    Returns:
        A dict with `quantized` [batch, time, D] (straight-through in
        training), `indices` [batch, time], `commitment_loss` [batch] (mean
        squared error between the (normalised) input and its code, over the
        valid frames of each item, times `commitment_weight`) and, when
        `target_indices` is given, `cross_entropy` [batch].

    Reference:
        Fu et al., "Self-Supervised Speech Quality Estimation and Enhancement
        Using Only Clean Speech", ICLR 2024.
    """

    def __init__(self, codebook_size=2048, codebook_dim=32, use_cosine_sim=True,
                 decay=0.8, eps=1e-5, kmeans_init=True, kmeans_iters=10,
                 threshold_ema_dead_code=0.0, commitment_weight=1.0,
                 freeze_codebook=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.codebook_size = codebook_size
        self.codebook_dim = codebook_dim
        self.use_cosine_sim = use_cosine_sim
        self.decay = decay
        self.eps = eps
        self.kmeans_init = kmeans_init
        self.kmeans_iters = kmeans_iters
        self.threshold_ema_dead_code = threshold_ema_dead_code
        self.commitment_weight = commitment_weight
        self.freeze_codebook = freeze_codebook
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, inputs_shape=None, mask_shape=None):
        k, d = self.codebook_size, self.codebook_dim
        # one codebook across tf.distribute replicas: the first replica's
        # write wins (all replicas compute the same values anyway)
        state = dict(trainable=False, dtype="float32", autocast=False,
                     aggregation="only_first_replica")
        if self.kmeans_init:
            init = "zeros"
        else:
            def init(shape, dtype=None):
                codes = keras.random.uniform(shape, -1.0, 1.0, seed=self.seed_generator) * (3.0 / d) ** 0.5
                return l2_normalize(codes) if self.use_cosine_sim else codes
        self.embed = self.add_weight(shape=(k, d), initializer=init, name="embed", **state)
        self.embed_avg = self.add_weight(shape=(k, d), initializer="zeros", name="embed_avg",
                                         **state)
        if not self.kmeans_init:
            # a copy: on JAX, two variables sharing one buffer break donation
            self.embed_avg.assign(ops.copy(self.embed))
        self.cluster_size = self.add_weight(shape=(k,), initializer="zeros",
                                            name="cluster_size", **state)
        self.initted = self.add_weight(shape=(), initializer="ones" if not self.kmeans_init else "zeros",
                                       name="initted", **state)

    def _prepare(self, inputs):
        z = ops.cast(inputs, "float32")
        return l2_normalize(z) if self.use_cosine_sim else z

    def _ema_update(self, flat, weights, indices, embed, embed_avg, cluster_size, pool):
        """EMA step from this shard's assignments; `pool` (rows, weights) holds
        the vectors of the global batch that dead codes are drawn from."""
        k = self.codebook_size
        counts = ops.segment_sum(weights, indices, num_segments=k)
        sums = ops.segment_sum(flat * weights[:, None], indices, num_segments=k)
        counts, sums = sum_across_replicas((counts, sums))
        cluster_size = cluster_size * self.decay + counts * (1.0 - self.decay)
        embed_avg = embed_avg * self.decay + sums * (1.0 - self.decay)
        total = ops.sum(cluster_size)
        smoothed = (cluster_size + self.eps) / (total + k * self.eps) * total
        embed = embed_avg / smoothed[:, None]
        if self.use_cosine_sim:
            embed = l2_normalize(embed)
        if self.threshold_ema_dead_code > 0:
            dead = cluster_size < self.threshold_ema_dead_code
            noise = keras.random.uniform(ops.shape(pool[1]), seed=self.seed_generator)
            fresh = sample_rows(pool[0], pool[1], k, noise)
            embed = ops.where(dead[:, None], fresh, embed)
            embed_avg = ops.where(dead[:, None], fresh * self.threshold_ema_dead_code, embed_avg)
            cluster_size = ops.where(dead, self.threshold_ema_dead_code, cluster_size)
        self.embed.assign(embed)
        self.embed_avg.assign(embed_avg)
        self.cluster_size.assign(cluster_size)

    def _kmeans_state(self, flat, weights):
        """(embed, embed_avg, cluster_size) after the first-batch k-means, or
        the current state when the codebook is already initialised."""
        # Random draws stay outside the branch: JAX cannot update the seed
        # state from inside a traced conditional.
        noise = keras.random.uniform(ops.shape(weights), seed=self.seed_generator)
        current = (ops.convert_to_tensor(self.embed), ops.convert_to_tensor(self.embed_avg),
                   ops.convert_to_tensor(self.cluster_size))

        def fit_kmeans():
            means, counts = kmeans(flat, weights, self.codebook_size, self.kmeans_iters,
                                   self.use_cosine_sim, noise)
            return means, means * counts[:, None], counts

        return ops.cond(self.initted > 0.5, lambda: current, fit_kmeans)

    def call(self, inputs, mask=None, target_indices=None, update_mask=None, training=None):
        x = self._prepare(inputs)
        batch, steps = ops.shape(x)[0], ops.shape(x)[1]
        flat = ops.reshape(x, (-1, self.codebook_dim))
        if mask is None:
            weights = ops.ones((ops.shape(flat)[0],), "float32")
        else:
            weights = ops.reshape(ops.cast(mask, "float32"), (-1,))
        update = bool(training) and not self.freeze_codebook
        # frames of items whose update_mask is 0 never reach the EMA, k-means
        # or dead-code pool
        ema_weights = weights
        if update_mask is not None:
            item = ops.cast(ops.reshape(update_mask, (-1, 1)), "float32")
            ema_weights = weights * ops.reshape(ops.broadcast_to(item, (batch, steps)), (-1,))
        pool = None
        if update and (self.kmeans_init or self.threshold_ema_dead_code > 0):
            pool = gather_across_replicas((flat, ema_weights))
        if update and self.kmeans_init:
            embed, embed_avg, cluster_size = self._kmeans_state(*pool)
            self.initted.assign(ops.ones((), "float32"))
        else:
            embed = ops.convert_to_tensor(self.embed)
            embed_avg = ops.convert_to_tensor(self.embed_avg)
            cluster_size = ops.convert_to_tensor(self.cluster_size)
        scores = code_scores(flat, embed, self.use_cosine_sim)
        flat_indices = ops.argmax(scores, axis=-1)
        codes = ops.take(embed, flat_indices, axis=0)
        if update:
            self._ema_update(flat, ema_weights, flat_indices, embed, embed_avg, cluster_size,
                             pool)

        codes = ops.reshape(codes, (batch, steps, self.codebook_dim))
        indices = ops.reshape(ops.cast(flat_indices, "int32"), (batch, steps))
        frame_weights = ops.reshape(weights, (batch, steps))
        frames = ops.maximum(ops.sum(frame_weights, axis=1), 1.0)
        sq_err = ops.mean(ops.square(ops.stop_gradient(codes) - x), axis=-1)
        commitment = ops.sum(sq_err * frame_weights, axis=1) / frames * self.commitment_weight
        if training:
            quantized = x + ops.stop_gradient(codes - x)
        else:
            quantized = codes
        outputs = {
            "quantized": ops.cast(quantized, self.compute_dtype),
            "indices": indices,
            "commitment_loss": commitment,
        }
        if target_indices is not None:
            logits = ops.reshape(scores, (batch, steps, self.codebook_size))
            ce = keras.losses.sparse_categorical_crossentropy(
                ops.cast(target_indices, "int32"), logits, from_logits=True)
            outputs["cross_entropy"] = ops.sum(ce * frame_weights, axis=1) / frames
        return outputs

    def compute_output_spec(self, inputs, mask=None, target_indices=None, update_mask=None,
                            training=None):
        batch, steps = inputs.shape[0], inputs.shape[1]
        spec = {
            "quantized": keras.KerasTensor((batch, steps, self.codebook_dim), dtype=self.compute_dtype),
            "indices": keras.KerasTensor((batch, steps), dtype="int32"),
            "commitment_loss": keras.KerasTensor((batch,), dtype="float32"),
        }
        if target_indices is not None:
            spec["cross_entropy"] = keras.KerasTensor((batch,), dtype="float32")
        return spec

    def get_config(self):
        config = super().get_config()
        config.update(codebook_size=self.codebook_size, codebook_dim=self.codebook_dim,
                      use_cosine_sim=self.use_cosine_sim, decay=self.decay, eps=self.eps,
                      kmeans_init=self.kmeans_init, kmeans_iters=self.kmeans_iters,
                      threshold_ema_dead_code=self.threshold_ema_dead_code,
                      commitment_weight=self.commitment_weight,
                      freeze_codebook=self.freeze_codebook, seed=self.seed)
        return config
