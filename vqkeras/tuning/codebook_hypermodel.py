"""The part of the codebook hypermodels shared by both tasks: building the
preset with a trial's codebook and learning rate, and fitting it with the
objective's validation callback."""
import inspect

import keras
import keras_tuner

from vqkeras.models.presets import PRESETS
from vqkeras.models.vqvae_model import VQVAEModel
from vqkeras.tuning.objective_guard import ObjectiveGuard
from vqkeras.tuning.search_space import declare_hyperparameters, normalize_search_space

# Constructor arguments a config's `model` section may fix.
MODEL_ARGUMENTS = tuple(name for name in inspect.signature(VQVAEModel.__init__).parameters
                         if name not in ("self", "kwargs"))


class CodebookHyperModel(keras_tuner.HyperModel):
    """Shared part of the codebook hypermodels; use `VQScoreHyperModel` or
    `VQEnhancerHyperModel`.

    Hyperparameters: `codebook_size`, `codebook_dim`, `distance` (`"cosine"`
    sets `use_cosine_sim=True`) and `learning_rate` (see
    `normalize_search_space`). `build(hp)` builds the preset with them and
    compiles it with `Adam(learning_rate, beta_1, beta_2)`; it does no
    training and no I/O. `fit(hp, model, ...)` is `model.fit` with the
    objective's validation callback placed before the tuner's callbacks (so
    they find the objective in the epoch logs) and a NaN guard.

    Args:
        preset: str. Base preset. Defaults to the task's paper preset.
        model_overrides: dict. Fixed constructor arguments on top of the
            preset (e.g. `hidden_dims`, `kmeans_iters`); the searched ones
            are not allowed here.
        search_space: dict or None. See `normalize_search_space`. Defaults
            to `DEFAULT_SEARCH_SPACE`.
        validation: the validation data of the objective's callback (a
            labels CSV path or a list of items; see the subclasses). Needed
            by `fit`, not by `build`.
        beta_1: float. Adam beta_1. Defaults to 0.5 (the paper's).
        beta_2: float. Adam beta_2. Defaults to 0.9.
        seed: int. Global seed set at every build (same initial weights for
            every trial) and the quantizer's seed unless overridden.
            Defaults to 0.
        validation_batch_size: int. Items per validation batch. Defaults to 8.
        max_validation_items: int or None. Use only the first this many
            validation items. Defaults to None (all).
    """

    task = None
    default_preset = None
    objective = None
    worst_objective = None

    def __init__(self, preset=None, model_overrides=None, search_space=None, validation=None,
                 beta_1=0.5, beta_2=0.9, seed=0, validation_batch_size=8,
                 max_validation_items=None, name=None, tunable=True):
        super().__init__(name=name, tunable=tunable)
        self.preset = preset or self.default_preset
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; available: "
                             f"{', '.join(sorted(PRESETS))}")
        if PRESETS[self.preset]["task"] != self.task:
            raise ValueError(f"preset {self.preset!r} is for task "
                             f"{PRESETS[self.preset]['task']!r}, not {self.task!r}")
        self.model_overrides = dict(model_overrides or {})
        searched = sorted(set(self.model_overrides) & {"codebook_size", "codebook_dim",
                                                       "use_cosine_sim", "learning_rate"})
        if searched:
            raise ValueError(f"model override(s) {', '.join(searched)} are searched; fix them "
                             "in the search space instead (e.g. codebook_size: 1024)")
        unknown = sorted(set(self.model_overrides) - set(MODEL_ARGUMENTS))
        if unknown:
            raise ValueError(f"unknown model argument(s) {', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(MODEL_ARGUMENTS)}")
        self.search_space = normalize_search_space(search_space)
        self._check_heads()
        self.validation = validation
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.seed = int(seed)
        self.validation_batch_size = int(validation_batch_size)
        self.max_validation_items = max_validation_items
        self._validation_callback = None

    def _model_config(self):
        config = dict(PRESETS[self.preset]["config"])
        config.update(self.model_overrides)
        return config

    def _check_heads(self):
        config = self._model_config()
        layers = config.get("num_transformer_layers",
                            2 if self.task == "se" else 0)
        heads = config.get("num_heads", 8)
        if layers:
            bad = [d for d in self.search_space["codebook_dim"] if d % heads]
            if bad:
                raise ValueError(f"search.codebook_dim {bad} not divisible by num_heads={heads} "
                                 "(the Transformer layers work at the code dimension)")

    # -------------------------------------------------------- search space
    def declare_hyperparameters(self, hp):
        """Declares the searched hyperparameters on `hp`; returns their
        current values (see `vqkeras.tuning.search_space`)."""
        return declare_hyperparameters(hp, self.search_space)

    def model_arguments(self, values):
        """Constructor overrides (for `build_from_preset`) from hyperparameter
        values: the fixed overrides, the seed and the searched arguments."""
        arguments = dict(self.model_overrides)
        arguments.setdefault("seed", self.seed)
        arguments.update(codebook_size=int(values["codebook_size"]),
                         codebook_dim=int(values["codebook_dim"]),
                         use_cosine_sim=values["distance"] == "cosine")
        return arguments

    def build(self, hp):
        from vqkeras.models import build_from_preset

        values = self.declare_hyperparameters(hp)
        keras.utils.set_random_seed(self.seed)
        model = build_from_preset(self.preset, **self.model_arguments(values))
        model.compile(optimizer=keras.optimizers.Adam(float(values["learning_rate"]),
                                                      beta_1=self.beta_1, beta_2=self.beta_2))
        return model

    # ----------------------------------------------------------- training
    def make_validation_callback(self):
        """The callback that writes the objective into the epoch logs."""
        raise NotImplementedError

    def validation_callback(self):
        """The objective's callback, created once (its data loads once and is
        reused by every trial)."""
        if self.validation is None:
            raise ValueError(f"{type(self).__name__} needs validation data to compute "
                             f"{self.objective.name}")
        if self._validation_callback is None:
            self._validation_callback = self.make_validation_callback()
        return self._validation_callback

    def fit(self, hp, model, *args, **kwargs):
        from vqkeras.training.callbacks import StopOnNaN

        tuner_callbacks = list(kwargs.pop("callbacks", None) or [])
        callbacks = [StopOnNaN(), self.validation_callback(),
                     ObjectiveGuard(self.objective.name, self.worst_objective)]
        return model.fit(*args, callbacks=callbacks + tuner_callbacks, **kwargs)
