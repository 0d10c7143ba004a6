"""The VQ-VAE shared by the quality estimator and the enhancer."""
import json
import math

import keras
from keras import ops

from vqkeras.calibration import check as check_calibration
from vqkeras.layers.conv_decoder import ConvDecoder
from vqkeras.layers.conv_encoder import ConvEncoder
from vqkeras.layers.frame_mask import FrameMask
from vqkeras.layers.leading_items_mask import LeadingItemsMask
from vqkeras.layers.replica_sync import scale_loss_for_replicas, sum_across_replicas
from vqkeras.layers.stft_magnitude import STFTMagnitude
from vqkeras.layers.vector_quantizer import VectorQuantizer
from vqkeras.models.presets import get_preset
from vqkeras.tasks import get_task

COS_EPS = 1e-5


def frame_cosine(a, b, eps=COS_EPS):
    """Cosine similarity per frame of [batch, time, dim] tensors, with `eps`
    added to each norm (as the official `cos_loss`)."""
    na = ops.sqrt(ops.sum(ops.square(a), axis=-1)) + eps
    nb = ops.sqrt(ops.sum(ops.square(b), axis=-1)) + eps
    return ops.sum(a * b, axis=-1) / (na * nb)


def masked_mean_over_time(values, mask):
    """Mean over valid frames of each item: [batch, time] -> [batch]."""
    mask = ops.cast(mask, values.dtype)
    return ops.sum(values * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


INPUT_TRANSFORMS = ("none", "log1p", "log")


def features_to_magnitude(model, features):
    """Inverts a model's input transform: STFT magnitude from (decoded)
    features."""
    if model.input_transform == "log1p":
        return ops.expm1(features)
    if model.input_transform == "log":
        return ops.exp(features + 0.5 * math.log(model.stft.power_floor))
    return features


class VQVAEModel(keras.Model):
    """Functional VQ-VAE on STFT magnitudes: waveform in, codes and
    reconstruction out. `VQScoreModel` and `VQEnhancerModel` set the paper's
    defaults; this class holds the graph, the stage-1 loss and its metrics.

    Inputs are a dict: `waveform` float32 [batch, samples] at 16 kHz and
    `length` int32 [batch] (valid samples per item; padding beyond it never
    changes an item's outputs). Outputs are a dict: `features` [batch, frames,
    257] (after the input transform), `frame_mask` [batch, frames], `z` and
    `zq` [batch, frames, codebook_dim], `indices` [batch, frames], `decoded`
    [batch, frames, 257], `commitment_loss` [batch] and `vqscore` [batch]
    (mean frame cosine of z and zq).

    Args:
        codebook_size: int. Number of codes.
        codebook_dim: int. Code dimension (encoder output width).
        hidden_dims: tuple of 2 ints. Encoder/decoder widths.
        hop_length: int. STFT hop in samples.
        fft_length: int. Defaults to 512.
        input_transform: `"none"`, `"log1p"` or `"log"` (log magnitude
            relative to the STFT floor, see `STFTMagnitude`).
        normalization: `"instance"` or `"mean"` (see `ConvEncoder`).
        num_transformer_layers: int. Transformer layers in encoder and decoder.
        num_heads: int. Defaults to 8.
        dropout: float. Transformer dropout. Defaults to 0.4.
        use_cosine_sim: bool. Cosine (True) or Euclidean codebook.
        decay, eps, kmeans_init, kmeans_iters, threshold_ema_dead_code,
        commitment_weight, freeze_codebook: see `VectorQuantizer`.
        reconstruction_loss: `"cosine"` (minus mean frame cosine) or
            `"spectral_convergence"` (L1 spectral convergence).
        reconstruction_weight: float. Defaults to 45.
        vq_loss_weight: float. Weight of the commitment loss.
        seed: int or None. Seed of the quantizer's random draws.
        ranking_weight: float. Weight of the label-free margin ranking loss
            (a vqkeras addition; 0, the default, is the paper's training).
            When positive, training batches must be laid out by
            `vqkeras.data.ranking_pairs.RankingPairs`: the clean crops first,
            then `ranking_copies` blocks of degraded copies, with the margins
            in `x["margin"]` [clean items, copies]. Only the clean block
            enters the reconstruction and commitment losses and updates the
            codebook; the loss adds `ranking_weight * mean(relu(margin -
            (score_less_damaged - score_more_damaged)))` over every pair of
            one crop's versions (clean has margin 0), with scores taken
            against the codebook before this batch's EMA update.
        ranking_copies: int. Degraded copies per clean crop. Defaults to 1.
        ranking_ceiling: float. When positive, each pair's score gap is also
            held below `ranking_ceiling` times its margin (the loss adds
            relu(gap - ranking_ceiling * margin)), so that drops follow the
            margins' scale across kinds instead of growing without bound for
            easy kinds. 0, the default, is the one-sided hinge.
        calibration: dict or None. What turns a score into
            `clean_percentile` and `equivalent_snr_db` (see
            `vqkeras.calibration`; made by `vqkeras calibrate` or at the
            end of `vqkeras train`). Plain lists, saved with the config and
            kept by `vqkeras export`; it never changes a score.
            Defaults to None.
    """

    def __init__(self, codebook_size, codebook_dim, hidden_dims, hop_length,
                 fft_length=512, input_transform="none", normalization="instance",
                 num_transformer_layers=0, num_heads=8, dropout=0.4,
                 use_cosine_sim=True, decay=0.8, eps=1e-5, kmeans_init=True,
                 kmeans_iters=10, threshold_ema_dead_code=0.0, commitment_weight=1.0,
                 freeze_codebook=False, reconstruction_loss="cosine",
                 reconstruction_weight=45.0, vq_loss_weight=1.0, seed=None,
                 ranking_weight=0.0, ranking_copies=1, ranking_ceiling=0.0, dtype=None,
                 calibration=None, **kwargs):
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f"input_transform must be one of {INPUT_TRANSFORMS}, "
                             f"got {input_transform!r}")
        if reconstruction_loss not in ("cosine", "spectral_convergence"):
            raise ValueError("reconstruction_loss must be 'cosine' or 'spectral_convergence', "
                             f"got {reconstruction_loss!r}")
        hidden_dims = tuple(int(h) for h in hidden_dims)
        # an explicit dtype policy goes to every layer and into the config;
        # without one the layers follow the global policy
        dtype = None if dtype is None else keras.dtype_policies.get(dtype)
        waveform = keras.Input(shape=(None,), name="waveform")
        length = keras.Input(shape=(), dtype="int32", name="length")
        features = STFTMagnitude(fft_length, hop_length, log1p=input_transform == "log1p",
                                 log=input_transform == "log", name="stft",
                                 dtype=dtype)(waveform, length)
        mask = FrameMask(hop_length, name="frame_mask", dtype=dtype)(length, features)
        encoder = ConvEncoder(hidden_dims, codebook_dim, normalization=normalization,
                              num_transformer_layers=num_transformer_layers,
                              num_heads=num_heads, dropout=dropout, name="encoder",
                              dtype=dtype)
        quantizer = VectorQuantizer(codebook_size, codebook_dim, use_cosine_sim=use_cosine_sim,
                                    decay=decay, eps=eps, kmeans_init=kmeans_init,
                                    kmeans_iters=kmeans_iters,
                                    threshold_ema_dead_code=threshold_ema_dead_code,
                                    commitment_weight=commitment_weight,
                                    freeze_codebook=freeze_codebook, seed=seed, name="quantizer",
                                    dtype=dtype)
        decoder = ConvDecoder(hidden_dims, fft_length // 2 + 1,
                              num_transformer_layers=num_transformer_layers,
                              num_heads=num_heads, dropout=dropout, name="decoder",
                              dtype=dtype)
        z = encoder(features, mask)
        if ranking_weight > 0:
            # only the clean block (the first of 1 + ranking_copies) moves the codebook
            update_mask = LeadingItemsMask(1 + int(ranking_copies), name="clean_items",
                                           dtype=dtype)(waveform)
            vq = quantizer(z, mask, update_mask=update_mask)
        else:
            vq = quantizer(z, mask)
        decoded = decoder(vq["quantized"], mask)
        vqscore = masked_mean_over_time(frame_cosine(z, vq["quantized"]), mask)
        outputs = {
            "features": features,
            "frame_mask": mask,
            "z": z,
            "zq": vq["quantized"],
            "indices": vq["indices"],
            "decoded": decoded,
            "commitment_loss": vq["commitment_loss"],
            "vqscore": vqscore,
        }
        super().__init__(inputs={"waveform": waveform, "length": length},
                         outputs=outputs, **kwargs)
        if dtype is not None:
            self.dtype_policy = dtype
        self._explicit_dtype_policy = dtype
        self.codebook_size = codebook_size
        self.codebook_dim = codebook_dim
        self.hidden_dims = hidden_dims
        self.hop_length = hop_length
        self.fft_length = fft_length
        self.input_transform = input_transform
        self.normalization = normalization
        self.num_transformer_layers = num_transformer_layers
        self.num_heads = num_heads
        self.dropout = dropout
        self.use_cosine_sim = use_cosine_sim
        self.decay = decay
        self.eps = eps
        self.kmeans_init = kmeans_init
        self.kmeans_iters = kmeans_iters
        self.threshold_ema_dead_code = threshold_ema_dead_code
        self.commitment_weight = commitment_weight
        self.freeze_codebook = freeze_codebook
        self.reconstruction_loss = reconstruction_loss
        self.reconstruction_weight = reconstruction_weight
        self.vq_loss_weight = vq_loss_weight
        self.seed = seed
        self.ranking_weight = float(ranking_weight)
        self.ranking_copies = int(ranking_copies)
        self.ranking_ceiling = float(ranking_ceiling)
        self.calibration = calibration
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.stft = self.get_layer("stft")
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "reconstruction_loss", "vq_loss", "perplexity",
                         "codebook_usage", "dead_codes")
            + (("ranking_loss",) if self.ranking_weight > 0 else ())
        }

    def call(self, inputs, training=None, mask=None):
        # ranking batches carry `margin` beside the model inputs (for
        # compute_loss); the graph takes only `waveform` and `length`
        if isinstance(inputs, dict) and "margin" in inputs:
            inputs = {"waveform": inputs["waveform"], "length": inputs["length"]}
        return super().call(inputs, training=training, mask=mask)

    def enhanced_magnitude(self, outputs):
        """The magnitude that is resynthesised with the input's phase, from
        the model's outputs: the decoded features as a magnitude."""
        return features_to_magnitude(self, outputs["decoded"])

    # ----------------------------------------------------------------- loss
    def reconstruction_error(self, features, decoded, mask):
        """The paper's reconstruction loss (unweighted) over valid frames."""
        mask = ops.cast(mask, "float32")
        features = ops.cast(features, "float32")
        decoded = ops.cast(decoded, "float32")
        if self.reconstruction_loss == "cosine":
            cos = frame_cosine(features, decoded)
            return -ops.sum(cos * mask) / ops.maximum(ops.sum(mask), 1.0)
        m = mask[:, :, None]
        return (ops.sum(ops.abs(features - decoded) * m)
                / ops.maximum(ops.sum(ops.abs(features) * m), 1e-12))

    def codebook_statistics(self, indices, mask):
        """Perplexity and used fraction of the codebook for one batch, and the
        number of codes whose EMA cluster size is below 1e-3 (dead)."""
        weights = ops.reshape(ops.cast(mask, "float32"), (-1,))
        counts = ops.segment_sum(weights, ops.reshape(indices, (-1,)),
                                 num_segments=self.codebook_size)
        counts = sum_across_replicas(counts)  # the global batch under tf.distribute
        probs = counts / ops.maximum(ops.sum(counts), 1.0)
        entropy = -ops.sum(probs * ops.log(ops.maximum(probs, 1e-12)))
        usage = ops.mean(ops.cast(counts > 0, "float32"))
        threshold = max(float(self.threshold_ema_dead_code), 1e-3)
        dead = ops.sum(ops.cast(ops.convert_to_tensor(self.quantizer.cluster_size) < threshold,
                                "float32"))
        return ops.exp(entropy), usage, dead

    def ranking_loss(self, y_pred, margins):
        """Margin ranking loss of one batch laid out as [clean; copy 1; ...]
        (see `ranking_weight`): mean over every pair (a, b) of one crop's
        versions with margin m_a > m_b of relu(m_a - m_b - (s_b - s_a)),
        where s is the VQScore against the codes picked before this batch's
        EMA update (codes held constant: gradients reach the encoder only).
        """
        blocks = 1 + self.ranking_copies
        mask = ops.cast(y_pred["frame_mask"], "float32")
        codes = ops.stop_gradient(ops.cast(y_pred["zq"], "float32"))
        scores = masked_mean_over_time(frame_cosine(ops.cast(y_pred["z"], "float32"), codes), mask)
        scores = ops.transpose(ops.reshape(scores, (blocks, -1)))      # [B, blocks]
        margins = ops.cast(ops.reshape(margins, (-1, self.ranking_copies)), "float32")
        margins = ops.concatenate([ops.zeros_like(margins[:, :1]), margins], axis=1)
        # pair (a, b): a more damaged than b when m_a > m_b
        gap = margins[:, :, None] - margins[:, None, :]
        lead = scores[:, None, :] - scores[:, :, None]                  # s_b - s_a
        valid = ops.cast(gap > 0, "float32")
        hinge = ops.relu(gap - lead) * valid
        if self.ranking_ceiling > 0:
            hinge = hinge + ops.relu(lead - self.ranking_ceiling * gap) * valid
        return ops.sum(hinge) / ops.maximum(ops.sum(valid), 1.0)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        ranking = None
        if self.ranking_weight > 0:
            if not isinstance(x, dict) or "margin" not in x:
                raise ValueError("ranking_weight > 0 needs batches from "
                                 "vqkeras.data.ranking_pairs.RankingPairs (x['margin'] missing)")
            ranking = self.ranking_loss(y_pred, x["margin"])
            clean = ops.shape(y_pred["frame_mask"])[0] // (1 + self.ranking_copies)
            y_pred = {key: y_pred[key][:clean] for key in
                      ("frame_mask", "features", "decoded", "commitment_loss", "indices")}
        mask = y_pred["frame_mask"]
        frames = ops.sum(mask, axis=1)
        recon = self.reconstruction_error(y_pred["features"], y_pred["decoded"], mask)
        vq = ops.sum(y_pred["commitment_loss"] * frames) / ops.maximum(ops.sum(frames), 1.0)
        loss = self.reconstruction_weight * recon + self.vq_loss_weight * vq
        if ranking is not None:
            loss = loss + self.ranking_weight * ranking
            self._trackers["ranking_loss"].update_state(ranking)
        perplexity, usage, dead = self.codebook_statistics(y_pred["indices"], mask)
        for name, value in (("loss", loss), ("reconstruction_loss", recon), ("vq_loss", vq),
                            ("perplexity", perplexity), ("codebook_usage", usage),
                            ("dead_codes", dead)):
            self._trackers[name].update_state(value)
        # under tf.distribute the optimizer sums the replicas' gradients
        return scale_loss_for_replicas(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return {name: t.result() for name, t in self._trackers.items()}

    @property
    def metrics(self):
        return list(self._trackers.values())

    @property
    def calibration(self):
        """The score calibration (a plain dict, see `vqkeras.calibration`)
        or None; set it to attach or remove one."""
        return self._calibration_json and json.loads(self._calibration_json)

    @calibration.setter
    def calibration(self, value):
        # kept as JSON text: Keras would wrap a dict attribute in tracked containers
        plain = check_calibration(value)
        self._calibration_json = None if plain is None else json.dumps(plain)

    # --------------------------------------------------------------- config
    def get_config(self):
        return {
            "name": self.name,
            "codebook_size": self.codebook_size,
            "codebook_dim": self.codebook_dim,
            "hidden_dims": list(self.hidden_dims),
            "hop_length": self.hop_length,
            "fft_length": self.fft_length,
            "input_transform": self.input_transform,
            "normalization": self.normalization,
            "num_transformer_layers": self.num_transformer_layers,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "use_cosine_sim": self.use_cosine_sim,
            "decay": self.decay,
            "eps": self.eps,
            "kmeans_init": self.kmeans_init,
            "kmeans_iters": self.kmeans_iters,
            "threshold_ema_dead_code": self.threshold_ema_dead_code,
            "commitment_weight": self.commitment_weight,
            "freeze_codebook": self.freeze_codebook,
            "reconstruction_loss": self.reconstruction_loss,
            "reconstruction_weight": self.reconstruction_weight,
            "vq_loss_weight": self.vq_loss_weight,
            "seed": self.seed,
            "ranking_weight": self.ranking_weight,
            "ranking_copies": self.ranking_copies,
            "ranking_ceiling": self.ranking_ceiling,
            "dtype": (None if self._explicit_dtype_policy is None
                      else keras.dtype_policies.serialize(self._explicit_dtype_policy)),
            "calibration": self.calibration,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -------------------------------------------------------------- presets
    @classmethod
    def from_preset(cls, name, **overrides):
        """A fresh (untrained) model from the preset called `name`
        (`vqkeras.models.presets`), its configuration updated by `overrides`.

        Called on `VQVAEModel`, builds whichever class the preset's task
        names; called on a subclass, refuses a preset of another task.

        Raises:
            ValueError: an unknown preset, or one for another task.
        """
        preset = get_preset(name)
        target = model_class(preset["task"])
        if not issubclass(target, cls):
            raise ValueError(f"Preset {name!r} is for task {preset['task']!r}, "
                             f"not {cls.__name__}.")
        return target(**{**preset["config"], **overrides})


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def model_class(task):
    """The model class of `task` (`"qe"` or `"se"`; see `vqkeras.tasks`).

    Raises:
        ValueError: an unknown task.
    """
    name = get_task(task).model_class
    for sub in _subclasses(VQVAEModel):
        if sub.__name__ == name and sub.__module__.startswith("vqkeras."):
            return sub
    raise ValueError(f"no model class {name} for task {task!r} is loaded; "
                     "import vqkeras.models")


def build_from_preset(name, **overrides):
    """A fresh (untrained) model from the preset called `name`:
    `VQVAEModel.from_preset(name, **overrides)`."""
    return VQVAEModel.from_preset(name, **overrides)
