"""1-D convolutional decoder of the VQ-VAE (both paper configurations)."""
import keras
from keras import ops

from vqkeras.layers.conv_encoder import apply_mask, conv
from vqkeras.layers.transformer_encoder_layer import TransformerEncoderLayer


@keras.saving.register_keras_serializable(package="vqkeras")
class ConvDecoder(keras.layers.Layer):
    """Optional Transformer layers, then six kernel-7 convolutions with
    residual sums (conv4 takes dec3+dec2, conv6 takes dec5+dec4),
    LeakyReLU(0.3) after conv1-5 and ReLU on the output.

    Args:
        hidden_dims: tuple of 2 ints. The encoder's widths; the decoder uses
            them in reverse (conv2-3 get the second, conv4-5 the first).
            Defaults to (128, 64).
        output_dim: int. Output channels (frequency bins). Defaults to 257.
        kernel_size: int. Defaults to 7.
        num_transformer_layers: int. Defaults to 0.
        num_heads: int. Defaults to 8.
        intermediate_dim: int or None. Defaults to the input width.
        dropout: float. Defaults to 0.4.
        negative_slope: float. Defaults to 0.3.

    Call arguments:
        inputs: float tensor [batch, time, code_dim].
        mask: optional float tensor [batch, time].
        training: bool.
    """

    def __init__(self, hidden_dims=(128, 64), output_dim=257, kernel_size=7,
                 num_transformer_layers=0, num_heads=8, intermediate_dim=None,
                 dropout=0.4, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dims = tuple(hidden_dims)
        self.output_dim = output_dim
        self.kernel_size = kernel_size
        self.num_transformer_layers = num_transformer_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.negative_slope = negative_slope
        self.convs = None
        self.transformer_layers = []
        self.activation = keras.layers.LeakyReLU(negative_slope, dtype=self.dtype_policy)

    def build(self, inputs_shape, mask_shape=None):
        code_dim = inputs_shape[-1]
        h1, h2 = self.hidden_dims
        widths = [code_dim, h2, h2, h1, h1, self.output_dim]
        ins = [code_dim, code_dim, h2, h2, h1, h1]
        self.transformer_layers = [
            TransformerEncoderLayer(code_dim, self.num_heads, self.intermediate_dim or code_dim,
                                    self.dropout, name=f"transformer_layer{i}",
                                    dtype=self.dtype_policy)
            for i in range(self.num_transformer_layers)
        ]
        for layer in self.transformer_layers:
            layer.build((None, None, code_dim))
        self.convs = [conv(w, self.kernel_size, f"conv_dec{i + 1}", self.dtype_policy)
                      for i, w in enumerate(widths)]
        for layer, c in zip(self.convs, ins):
            layer.build((None, None, c))

    def call(self, inputs, mask=None, training=None):
        x = inputs
        for layer in self.transformer_layers:
            x = layer(x, mask, training=training)

        def block(i, x):
            return self.activation(self.convs[i](apply_mask(x, mask)))

        dec1 = block(0, x)
        dec2 = block(1, dec1)
        dec3 = block(2, dec2)
        dec4 = block(3, dec3 + dec2)
        dec5 = block(4, dec4)
        return ops.relu(self.convs[5](apply_mask(dec5 + dec4, mask)))

    def compute_output_shape(self, inputs_shape, mask_shape=None):
        return (inputs_shape[0], inputs_shape[1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dims=list(self.hidden_dims), output_dim=self.output_dim,
                      kernel_size=self.kernel_size,
                      num_transformer_layers=self.num_transformer_layers,
                      num_heads=self.num_heads, intermediate_dim=self.intermediate_dim,
                      dropout=self.dropout, negative_slope=self.negative_slope)
        return config
