"""The codebook search of the quality estimator (VQScore): objective
`val_lcc`, the correlation of VQScore with a quality label."""
import os

import keras_tuner

from vqkeras.tuning.codebook_hypermodel import CodebookHyperModel


class VQScoreHyperModel(CodebookHyperModel):
    """Codebook search for the quality estimator (VQScore).

    Objective: `val_lcc` (maximised), the linear correlation of the model's
    VQScore with a quality label on a degraded validation set, written by
    `vqkeras.training.validation_callback.VQScoreValidation`; `val_srcc` is
    logged beside it.

    Args:
        validation: str or list. A labels CSV (e.g. from
            `vqkeras.data.noisy_set.build_noisy_set`, labelled by
            `vqkeras.evaluation.set_labels.label_noisy_set`) or a list of
            `(waveform, label)` pairs.
        label: str. Label column of the CSV. Defaults to `"pesq"`.
        **kwargs: see `CodebookHyperModel` (`preset` defaults to
            `"vqscore-paper"`).

    Example:
    >>> hypermodel = VQScoreHyperModel("vqscore-paper", validation="val/labels.csv")
    >>> tuner = keras_tuner.RandomSearch(hypermodel, hypermodel.objective, max_trials=8,
    ...                                  directory="runs/tuning", project_name="qe")
    >>> tuner.search(train_ds, epochs=2, steps_per_epoch=250)
    """

    task = "qe"
    default_preset = "vqscore-paper"
    objective = keras_tuner.Objective("val_lcc", direction="max")
    worst_objective = -1.0

    def __init__(self, preset=None, model_overrides=None, search_space=None, validation=None,
                 label="pesq", **kwargs):
        self.label = label
        super().__init__(preset, model_overrides, search_space, validation, **kwargs)

    def make_validation_callback(self):
        from vqkeras.training.validation_callback import VQScoreValidation

        data = self.validation
        if self.max_validation_items:
            if isinstance(data, (str, os.PathLike)):
                loader = VQScoreValidation(data, label=self.label)
                waveforms, labels = loader.load()
                data = list(zip(waveforms, labels))
            data = list(data)[:int(self.max_validation_items)]
        return VQScoreValidation(data, label=self.label, batch_size=self.validation_batch_size)
