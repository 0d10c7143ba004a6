"""1-D convolutional encoder of the VQ-VAE (both paper configurations)."""
import keras
from keras import ops

from vqkeras.layers.instance_normalization import InstanceNormalization
from vqkeras.layers.transformer_encoder_layer import TransformerEncoderLayer


def apply_mask(x, mask):
    """Zeroes padded frames so 'same' convolutions see the zero padding they
    would see at the end of a lone item."""
    if mask is None:
        return x
    return x * ops.cast(mask, x.dtype)[:, :, None]


def conv(filters, kernel_size, name, dtype=None):
    return keras.layers.Conv1D(filters, kernel_size, padding="same", name=name, dtype=dtype)


@keras.saving.register_keras_serializable(package="vqkeras")
class ConvEncoder(keras.layers.Layer):
    """Six kernel-7 convolutions with residual sums (conv3 takes enc1+enc2,
    conv5 takes enc3+enc4) and normalisation over time.

    With `normalization="instance"` (quality estimation): instance norm on the
    input and after every convolution, LeakyReLU(0.3) on all but the last
    convolution, `z = enc6`. With `normalization="mean"` (enhancement): mean
    removal on the input and after every activated convolution, then
    `num_transformer_layers` post-norm Transformer layers on `enc5 + enc6` and
    a final mean removal.

    Args:
        hidden_dims: tuple of 2 ints. Widths of conv1-2 and conv3-4. Defaults
            to (128, 64).
        output_dim: int. Width of conv5-6, the code dimension. Defaults to 32.
        kernel_size: int. Defaults to 7.
        normalization: `"instance"` or `"mean"`. Defaults to `"instance"`.
        num_transformer_layers: int. Defaults to 0.
        num_heads: int. Attention heads. Defaults to 8.
        intermediate_dim: int or None. Feed-forward width; defaults to
            `output_dim`.
        dropout: float. Transformer dropout. Defaults to 0.4.
        negative_slope: float. LeakyReLU slope. Defaults to 0.3.

    Call arguments:
        inputs: float tensor [batch, time, features].
        mask: optional float tensor [batch, time].
        training: bool.
    """

    def __init__(self, hidden_dims=(128, 64), output_dim=32, kernel_size=7,
                 normalization="instance", num_transformer_layers=0, num_heads=8,
                 intermediate_dim=None, dropout=0.4, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        if normalization not in ("instance", "mean"):
            raise ValueError(f"normalization must be 'instance' or 'mean', got {normalization!r}")
        self.hidden_dims = tuple(hidden_dims)
        self.output_dim = output_dim
        self.kernel_size = kernel_size
        self.normalization = normalization
        self.num_transformer_layers = num_transformer_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.negative_slope = negative_slope
        h1, h2 = self.hidden_dims
        widths = [h1, h1, h2, h2, output_dim, output_dim]
        policy = self.dtype_policy
        self.convs = [conv(w, kernel_size, f"conv_enc{i + 1}", policy)
                      for i, w in enumerate(widths)]
        center_only = normalization == "mean"
        self.norms = [InstanceNormalization(center_only=center_only, name=f"enc_norm{i}",
                                            dtype=policy)
                      for i in range(7)]
        self.transformer_layers = [
            TransformerEncoderLayer(output_dim, num_heads, intermediate_dim or output_dim,
                                    dropout, name=f"transformer_layer{i}", dtype=policy)
            for i in range(num_transformer_layers)
        ]
        self.activation = keras.layers.LeakyReLU(negative_slope, dtype=policy)

    def build(self, inputs_shape, mask_shape=None):
        channels = inputs_shape[-1]
        ins = [channels, self.hidden_dims[0], self.hidden_dims[0], self.hidden_dims[1],
               self.hidden_dims[1], self.output_dim]
        for layer, c in zip(self.convs, ins):
            layer.build((None, None, c))
        for layer in self.transformer_layers:
            layer.build((None, None, self.output_dim))

    def call(self, inputs, mask=None, training=None):
        last_activated = self.normalization == "mean"
        x = self.norms[0](inputs, mask)

        def block(i, x, activate=True):
            y = self.convs[i](apply_mask(x, mask))
            if activate:
                y = self.activation(y)
            return self.norms[i + 1](y, mask)

        enc1 = block(0, x)
        enc2 = block(1, enc1)
        enc3 = block(2, enc1 + enc2)
        enc4 = block(3, enc3)
        enc5 = block(4, enc3 + enc4)
        enc6 = block(5, enc5, activate=last_activated)
        if not self.transformer_layers:
            return enc6
        z = enc5 + enc6
        for layer in self.transformer_layers:
            z = layer(z, mask, training=training)
        return self.norms[6](z, mask)

    def compute_output_shape(self, inputs_shape, mask_shape=None):
        return (inputs_shape[0], inputs_shape[1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dims=list(self.hidden_dims), output_dim=self.output_dim,
                      kernel_size=self.kernel_size, normalization=self.normalization,
                      num_transformer_layers=self.num_transformer_layers,
                      num_heads=self.num_heads, intermediate_dim=self.intermediate_dim,
                      dropout=self.dropout, negative_slope=self.negative_slope)
        return config
