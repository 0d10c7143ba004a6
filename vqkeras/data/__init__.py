"""Input pipelines and validation-set builders.

`CropDataset` (the numpy pipeline) is imported on first use, so importing a
submodule such as `vqkeras.data.file_lists` does not load Keras.
"""


def __getattr__(name):
    if name == "CropDataset":
        from vqkeras.data.crop_dataset import CropDataset
        return CropDataset
    raise AttributeError(f"module 'vqkeras.data' has no attribute {name!r}")
