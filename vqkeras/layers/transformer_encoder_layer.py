"""Post-norm Transformer encoder layer, numerically equal to PyTorch's."""
import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vqkeras")
class TransformerEncoderLayer(keras.layers.Layer):
    """Post-norm self-attention block with the layout of
    `torch.nn.TransformerEncoderLayer(batch_first=True, norm_first=False)`.

    `x = norm1(x + dropout(attention(x)))`, then
    `x = norm2(x + dropout(linear2(dropout(activation(linear1(x))))))`.
    Query, key and value come from one projection (`in_proj`, like PyTorch's
    `in_proj_weight`), so official weights map one to one. Padded frames are
    excluded as attention keys.

    Args:
        hidden_dim: int. Model width. Defaults to 128.
        num_heads: int. Attention heads. Defaults to 8.
        intermediate_dim: int. Feed-forward width. Defaults to `hidden_dim`.
        dropout: float. Dropout on attention weights, after attention and in
            the feed-forward block. Defaults to 0.4.
        activation: str. Feed-forward activation. Defaults to `"gelu"` (exact,
            erf-based, as PyTorch's).
        layer_norm_epsilon: float. Defaults to 1e-5.

    Call arguments:
        inputs: float tensor [batch, time, hidden_dim].
        mask: optional float tensor [batch, time], 1 for valid frames.
        training: bool. Enables dropout.
    """

    def __init__(self, hidden_dim=128, num_heads=8, intermediate_dim=None,
                 dropout=0.4, activation="gelu", layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise ValueError(f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}")
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim or hidden_dim
        self.dropout = dropout
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        policy = self.dtype_policy
        self.in_proj = keras.layers.Dense(3 * hidden_dim, name="in_proj", dtype=policy)
        self.out_proj = keras.layers.Dense(hidden_dim, name="out_proj", dtype=policy)
        self.linear1 = keras.layers.Dense(self.intermediate_dim, name="linear1", dtype=policy)
        self.linear2 = keras.layers.Dense(hidden_dim, name="linear2", dtype=policy)
        self.norm1 = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="norm1",
                                                     dtype=policy)
        self.norm2 = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="norm2",
                                                     dtype=policy)
        self.attention_dropout = keras.layers.Dropout(dropout, dtype=policy)
        self.dropout1 = keras.layers.Dropout(dropout, dtype=policy)
        self.dropout2 = keras.layers.Dropout(dropout, dtype=policy)
        self.dropout3 = keras.layers.Dropout(dropout, dtype=policy)

    def build(self, inputs_shape, mask_shape=None):
        d = self.hidden_dim
        self.in_proj.build((None, None, d))
        self.out_proj.build((None, None, d))
        self.linear1.build((None, None, d))
        self.linear2.build((None, None, self.intermediate_dim))
        self.norm1.build((None, None, d))
        self.norm2.build((None, None, d))

    def _attention(self, x, mask, training):
        batch, steps = ops.shape(x)[0], ops.shape(x)[1]
        head_dim = self.hidden_dim // self.num_heads
        qkv = self.in_proj(x)
        qkv = ops.reshape(qkv, (batch, steps, 3, self.num_heads, head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # [3, B, H, T, hd]
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = ops.matmul(q * (1.0 / math.sqrt(head_dim)), ops.transpose(k, (0, 1, 3, 2)))
        if mask is not None:
            # a finite fill: -1e9 overflows float16, and 0 * -inf is NaN
            fill = -3e4 if keras.backend.standardize_dtype(scores.dtype) == "float16" else -1e9
            valid_keys = ops.greater(mask, 0.5)[:, None, None, :]
            scores = ops.where(valid_keys, scores, ops.cast(fill, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        weights = self.attention_dropout(weights, training=training)
        context = ops.matmul(weights, v)  # [B, H, T, hd]
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (batch, steps, self.hidden_dim))
        return self.out_proj(context)

    def call(self, inputs, mask=None, training=None):
        x = self.norm1(inputs + self.dropout1(self._attention(inputs, mask, training), training=training))
        hidden = keras.activations.get(self.activation)(self.linear1(x))
        hidden = self.linear2(self.dropout2(hidden, training=training))
        return self.norm2(x + self.dropout3(hidden, training=training))

    def compute_output_shape(self, inputs_shape, mask_shape=None):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, num_heads=self.num_heads,
                      intermediate_dim=self.intermediate_dim, dropout=self.dropout,
                      activation=self.activation,
                      layer_norm_epsilon=self.layer_norm_epsilon)
        return config
