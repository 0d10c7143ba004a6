"""The codebook search of the enhancer (stage 1): objective
`val_denoise_sc`, the spectral convergence of the output for noisy speech
against the clean spectrum."""
import keras_tuner

from vqkeras.tuning.codebook_hypermodel import CodebookHyperModel


class VQEnhancerHyperModel(CodebookHyperModel):
    """Codebook search for the enhancer (stage 1).

    Objective: `val_denoise_sc` (minimised), the spectral convergence of the
    model's output for noisy speech against the clean spectrum, written by
    `vqkeras.training.enhancement_validation_callback.EnhancementValidation`
    (its docstring says why this objective rather than code agreement or
    clean reconstruction alone; both are logged too).

    Args:
        validation: str or list. A labels CSV with `clean_path` (e.g. from
            `vqkeras.data.noisy_set.build_noisy_set`) or a list of
            `(noisy, clean)` waveform pairs.
        **kwargs: see `CodebookHyperModel` (`preset` defaults to
            `"enhancer-paper"`).
    """

    task = "se"
    default_preset = "enhancer-paper"
    objective = keras_tuner.Objective("val_denoise_sc", direction="min")
    worst_objective = 1e3

    def make_validation_callback(self):
        from vqkeras.training.enhancement_validation_callback import EnhancementValidation

        return EnhancementValidation(self.validation, batch_size=self.validation_batch_size,
                                     max_items=self.max_validation_items)
