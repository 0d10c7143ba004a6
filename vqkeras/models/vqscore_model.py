"""VQScore: label-free speech quality estimation."""
import keras

from vqkeras.models.vqvae_model import VQVAEModel
from vqkeras.tasks import QUALITY_ESTIMATION


@keras.saving.register_keras_serializable(package="vqkeras")
class VQScoreModel(VQVAEModel):
    """The quality-estimation VQ-VAE of Fu et al. (ICLR 2024).

    Trained on clean speech only; its VQScore (mean frame cosine between the
    encoder output and its nearest code) is high for clean speech and drops
    with noise and distortion. Defaults are the paper's configuration:
    hop 256, no input transform, instance-normalised CNN encoder
    257-128-128-64-64-32-32, a 2048 x 32 cosine codebook, cosine
    reconstruction loss (x45) and VQ loss weight 1.

    Args:
        codebook_size: int. Defaults to 2048.
        codebook_dim: int. Defaults to 32.
        hidden_dims: tuple of 2 ints. Defaults to (128, 64).
        hop_length: int. Defaults to 256.
        **kwargs: any other `VQVAEModel` argument.

    Example:
    >>> model = VQScoreModel.from_preset("vqscore-tiny")
    >>> out = model({"waveform": np.zeros((1, 16000), "float32"),
    ...              "length": np.array([16000], "int32")})
    >>> out["vqscore"].shape
    (1,)

    Reference:
        Fu, Hung, Tsao, Wang, "Self-Supervised Speech Quality Estimation and
        Enhancement Using Only Clean Speech", ICLR 2024.
    """

    task = QUALITY_ESTIMATION.name

    def __init__(self, codebook_size=2048, codebook_dim=32, hidden_dims=(128, 64),
                 hop_length=256, **kwargs):
        kwargs.setdefault("input_transform", "none")
        kwargs.setdefault("normalization", "instance")
        kwargs.setdefault("num_transformer_layers", 0)
        kwargs.setdefault("use_cosine_sim", True)
        kwargs.setdefault("reconstruction_loss", "cosine")
        kwargs.setdefault("vq_loss_weight", 1.0)
        super().__init__(codebook_size, codebook_dim, hidden_dims, hop_length, **kwargs)
