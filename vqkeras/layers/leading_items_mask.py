"""Per-item mask of the leading block of a batch."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vqkeras")
class LeadingItemsMask(keras.layers.Layer):
    """1.0 for the first `batch // blocks` items of a batch, 0.0 for the
    rest. Ranking training lays a batch out as [clean; copy 1; ...] in
    `blocks` equal blocks, and only the clean block may update the codebook.

    Args:
        blocks: int. Number of equal blocks in a batch.

    Call arguments:
        inputs: any tensor whose first axis is the batch.

    Returns:
        float32 tensor [batch].
    """

    def __init__(self, blocks, **kwargs):
        super().__init__(**kwargs)
        self.blocks = int(blocks)

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        leading = batch // self.blocks
        return ops.cast(ops.arange(batch) < leading, "float32")

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs.shape[0],), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(blocks=self.blocks)
        return config
