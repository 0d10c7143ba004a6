"""Stage 2 of enhancement training: self-distillation with adversarial noise.

The stage-1 enhancer is copied twice. The teacher copy is frozen and labels
every clean frame with its code. The student copy keeps the same (frozen)
codebook and learns to give those codes back even when the input carries
adversarial noise: the noise is the gradient of the student's code
cross-entropy with respect to the waveform, scaled per example to
`epsilon * ||x||` with `epsilon ~ U[epsilon_range]`.

Only the parts that need a gradient are backend-specific (the input gradient
for the perturbation and the parameter update); everything else, the loss
included, is written once with `keras.ops`.

The student is the product: train with `fit`, then save
`trainer.student.save("student.keras")` (the trainer itself is not saved).

Reference:
    Fu, Hung, Tsao, Wang, "Self-Supervised Speech Quality Estimation and
    Enhancement Using Only Clean Speech", ICLR 2024.
"""
import keras
from keras import ops

from vqkeras.layers.stft_magnitude import frame_mask, sample_mask

METRIC_NAMES = ("loss", "ce_clean", "ce_adv", "sc_clean", "sc_adv", "code_agreement")
TINY = 1e-30


def scale_perturbation(direction, waveform, lengths, epsilon):
    """`direction` [batch, samples] rescaled per item so that its L2 norm over
    the valid samples is `epsilon * ||waveform||` (same samples); padding
    gets no noise, an all-zero direction gives no noise. `epsilon` is a
    scalar or [batch]. The result carries no gradient."""
    valid = sample_mask(lengths, ops.shape(waveform)[1])
    direction = ops.cast(direction, "float32") * valid
    # divide by the peak first so tiny gradients do not underflow when squared
    peak = ops.max(ops.abs(direction), axis=1, keepdims=True)
    direction = direction / ops.maximum(peak, TINY)
    direction_norm = ops.sqrt(ops.sum(ops.square(direction), axis=1, keepdims=True))
    signal = ops.cast(waveform, "float32") * valid
    signal_norm = ops.sqrt(ops.sum(ops.square(signal), axis=1, keepdims=True))
    epsilon = ops.reshape(ops.cast(epsilon, "float32"), (-1, 1))
    delta = epsilon * signal_norm * direction / ops.maximum(direction_norm, TINY)
    return ops.stop_gradient(delta)


def frame_weighted_mean(per_item, mask):
    """Batch mean of per-item values [batch], each weighted by its frames."""
    frames = ops.sum(ops.cast(mask, "float32"), axis=1)
    return ops.sum(per_item * frames) / ops.maximum(ops.sum(frames), 1.0)


def self_distillation_loss(clean, adversarial, teacher_indices, features, mask,
                           reconstruction_error, ce_weight=1.0, reconstruction_weight=45.0):
    """The stage-2 objective, on any backend.

    loss = ce_weight * (CE(perturbed) + CE(clean))
         + reconstruction_weight * (SC(perturbed recon, X) + SC(clean recon, X))

    Args:
        clean, adversarial: dicts of the student's pass on the clean and the
            perturbed input, with `cross_entropy` [batch], `indices`
            [batch, frames] and `decoded` [batch, frames, bins].
        teacher_indices: int [batch, frames], the teacher's codes of the
            clean input.
        features: the clean features X [batch, frames, bins].
        mask: float [batch, frames] of valid frames.
        reconstruction_error: callable (features, decoded, mask) -> scalar
            (the student's `VQVAEModel.reconstruction_error`).

    Returns:
        (loss, dict of the `METRIC_NAMES` values).
    """
    ce_clean = frame_weighted_mean(clean["cross_entropy"], mask)
    ce_adv = frame_weighted_mean(adversarial["cross_entropy"], mask)
    sc_clean = reconstruction_error(features, clean["decoded"], mask)
    sc_adv = reconstruction_error(features, adversarial["decoded"], mask)
    loss = ce_weight * (ce_adv + ce_clean) + reconstruction_weight * (sc_adv + sc_clean)
    same = ops.cast(ops.equal(clean["indices"], ops.cast(teacher_indices, "int32")), "float32")
    agreement = ops.sum(same * mask) / ops.maximum(ops.sum(mask), 1.0)
    values = {"loss": loss, "ce_clean": ce_clean, "ce_adv": ce_adv, "sc_clean": sc_clean,
              "sc_adv": sc_adv, "code_agreement": agreement}
    return loss, values


def copy_model(model, name=None):
    """A fresh model with the same class, configuration and weights."""
    config = model.get_config()
    if name is not None:
        config["name"] = name
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


class SelfDistillationTrainer(keras.Model):
    """Trains a student enhancer to keep its teacher's clean-speech codes
    under adversarial input noise (stage 2 of Fu et al., ICLR 2024).

    Each training step, on a batch of clean waveforms `{"waveform",
    "length"}`:

    1. the teacher (inference mode) gives the target code of every frame;
    2. the gradient of the student's code cross-entropy with respect to the
       waveform, scaled per item to `epsilon * ||x||` (`epsilon` drawn from
       `epsilon_range` per item, norms over valid samples), is added once
       to the input;
    3. loss = CE(perturbed) + CE(clean) (times `ce_weight`) + 45 * (spectral
       convergence of the perturbed and the clean reconstructions against the
       clean features). The decoder sees `stop_gradient(zq)`, so the encoder
       learns only from CE and the decoder only from reconstruction.

    The teacher is frozen (`teacher.trainable = False`) and the student's
    codebook is frozen (`student.quantizer.freeze_codebook = True`); compile
    with a single optimizer. Logged metrics: `loss`, `ce_clean`, `ce_adv`,
    `sc_clean`, `sc_adv` and `code_agreement` (fraction of valid frames where
    the student's clean code is the teacher's).

    Save the product with `trainer.student.save(path)`.

    Args:
        student: `VQEnhancerModel` to train (a copy of the stage-1 model).
        teacher: `VQEnhancerModel`, another copy of the stage-1 model.
        epsilon_range: (low, high). Relative noise level range. Defaults to
            (0.03, 0.55).
        ce_weight: float. Weight of each cross-entropy term. Defaults to 1.
        reconstruction_weight: float. Weight of each reconstruction term.
            Defaults to 45.
        seed: int or None. Seed of the epsilon draws.

    Example:
    >>> trainer = SelfDistillationTrainer.from_stage1("stage1.keras", seed=0)
    >>> trainer.compile(optimizer=keras.optimizers.Adam(1e-5))
    >>> trainer.fit(dataset, steps_per_epoch=100, epochs=10)
    >>> trainer.student.save("stage2.keras")
    """

    def __init__(self, student, teacher, epsilon_range=(0.03, 0.55), ce_weight=1.0,
                 reconstruction_weight=45.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if student is teacher:
            raise ValueError("student and teacher must be two different copies of the model")
        low, high = (float(e) for e in epsilon_range)
        if not 0.0 <= low <= high:
            raise ValueError(f"epsilon_range must be (low, high) with 0 <= low <= high, "
                             f"got {epsilon_range!r}")
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.student.quantizer.freeze_codebook = True
        self.epsilon_range = (low, high)
        self.ce_weight = float(ce_weight)
        self.reconstruction_weight = float(reconstruction_weight)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES}
        self.built = True

    @classmethod
    def from_stage1(cls, model_or_path, **kwargs):
        """A trainer whose student and teacher are fresh copies of a stage-1
        enhancer (a model or a `.keras` path); the given model is untouched."""
        if isinstance(model_or_path, keras.Model):
            model = model_or_path
        else:
            from vqkeras.api import load_model
            model = load_model(model_or_path, task="se")
        student = copy_model(model)
        teacher = copy_model(model, name=f"{model.name}_teacher")
        return cls(student, teacher, **kwargs)

    # --------------------------------------------------------- forward passes
    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def _student_pass(self, waveform, lengths, targets, training=True, decode=True):
        """The student's pieces run directly: features, mask, quantizer outputs
        (with `cross_entropy` against `targets`) and the decoding of
        stop_gradient(zq)."""
        s = self.student
        features = s.stft(waveform, lengths)
        mask = frame_mask(lengths, ops.shape(features)[1], s.hop_length)
        z = s.encoder(features, mask, training=training)
        out = dict(s.quantizer(z, mask, target_indices=targets, training=training))
        out["features"], out["mask"] = features, mask
        if decode:
            out["decoded"] = s.decoder(ops.stop_gradient(out["quantized"]), mask,
                                       training=training)
        return out

    def teacher_indices(self, waveform, lengths):
        """The teacher's codes [batch, frames] of a batch (inference mode)."""
        t = self.teacher
        waveform = ops.convert_to_tensor(waveform, "float32")
        lengths = ops.convert_to_tensor(lengths, "int32")
        features = t.stft(waveform, lengths)
        mask = frame_mask(lengths, ops.shape(features)[1], t.hop_length)
        z = t.encoder(features, mask, training=False)
        return ops.stop_gradient(t.quantizer(z, mask, training=False)["indices"])

    def code_cross_entropy(self, waveform, lengths, targets, training=False):
        """The student's per-item code cross-entropy [batch] against `targets`."""
        return self._student_pass(waveform, lengths, targets, training, decode=False)[
            "cross_entropy"]

    def adversarial_perturbation(self, waveform, lengths, epsilon, targets=None, training=False):
        """The noise [batch, samples] that raises the student's code
        cross-entropy: its gradient with respect to the waveform, scaled per
        item to `epsilon * ||waveform||` over the valid samples.

        Args:
            waveform: float [batch, samples].
            lengths: int [batch].
            epsilon: float or float [batch].
            targets: int [batch, frames] or None for the teacher's codes.
            training: bool. Mode of the student's pass (dropout).
        """
        waveform = ops.convert_to_tensor(waveform, "float32")
        lengths = ops.convert_to_tensor(lengths, "int32")
        if targets is None:
            targets = self.teacher_indices(waveform, lengths)

        def total_ce(w):
            return ops.sum(self.code_cross_entropy(w, lengths, targets, training))

        gradient = self._input_gradient(total_ce, waveform)
        return scale_perturbation(gradient, waveform, lengths, epsilon)

    # ------------------------------------------------------- step, any backend
    def _step_inputs(self, data):
        """Clean batch, teacher codes and perturbed batch (no parameter
        gradient flows through any of them)."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        waveform = ops.convert_to_tensor(x["waveform"], "float32")
        lengths = ops.convert_to_tensor(x["length"], "int32")
        targets = self.teacher_indices(waveform, lengths)
        low, high = self.epsilon_range
        epsilon = keras.random.uniform((ops.shape(waveform)[0],), low, high,
                                       seed=self.seed_generator)
        delta = self.adversarial_perturbation(waveform, lengths, epsilon, targets, training=True)
        return waveform, lengths, targets, waveform + delta

    def _step_loss(self, waveform, lengths, targets, perturbed):
        clean = self._student_pass(waveform, lengths, targets, training=True)
        adversarial = self._student_pass(perturbed, lengths, targets, training=True)
        return self_distillation_loss(clean, adversarial, targets, clean["features"],
                                      clean["mask"], self.student.reconstruction_error,
                                      self.ce_weight, self.reconstruction_weight)

    def _update_metrics(self, values):
        for name, tracker in self._trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    @property
    def metrics(self):
        return list(self._trackers.values())

    # ------------------------------------------------ backend-specific parts
    def _input_gradient(self, fn, waveform):
        """d fn(waveform) / d waveform for a scalar-valued `fn`."""
        backend = keras.backend.backend()
        if backend == "tensorflow":
            from vqkeras.tf_guard import import_tensorflow
            tf = import_tensorflow()
            with tf.GradientTape() as tape:
                tape.watch(waveform)
                value = fn(waveform)
            return tape.gradient(value, waveform)
        if backend == "torch":
            import torch
            with torch.enable_grad():
                w = waveform.detach().requires_grad_(True)
                return torch.autograd.grad(fn(w), w)[0]
        if backend == "jax":
            import jax
            # Run `fn` statelessly inside jax.grad and write back the new
            # non-trainable values (dropout seeds) afterwards, so no tracer
            # of the inner trace leaks into a variable.
            variables = self.variables
            state = [v for v in variables if not v.trainable]
            mapping = [(v, v.value) for v in variables]

            def pure(w):
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    value = fn(w)
                return value, [scope.get_current_value(v) for v in state]

            gradient, updates = jax.grad(pure, has_aux=True)(waveform)
            for v, new in zip(state, updates):
                v.assign(new)
            return gradient
        raise NotImplementedError(f"backend {backend!r} is not supported")

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "jax":
            return self._train_step_jax(*args)
        if backend == "tensorflow":
            return self._train_step_tensorflow(*args)
        if backend == "torch":
            return self._train_step_torch(*args)
        raise NotImplementedError(f"backend {backend!r} is not supported")

    def _train_step_tensorflow(self, data):
        from vqkeras.tf_guard import import_tensorflow
        tf = import_tensorflow()
        inputs = self._step_inputs(data)
        with tf.GradientTape() as tape:
            loss, values = self._step_loss(*inputs)
        variables = self.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return self._update_metrics(values)

    def _train_step_torch(self, data):
        import torch
        inputs = self._step_inputs(data)
        self.zero_grad()
        loss, values = self._step_loss(*inputs)
        loss.backward()
        variables = self.trainable_variables
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in variables], variables)
        return self._update_metrics(values)

    def _run_stateless(self, fn, trainable, non_trainable):
        """fn() with the given variable values; returns (fn's result, new
        non-trainable values)."""
        mapping = (list(zip(self.trainable_variables, trainable))
                   + list(zip(self.non_trainable_variables, non_trainable)))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            out = fn()
        return out, [scope.get_current_value(v) for v in self.non_trainable_variables]

    def _train_step_jax(self, state, data):
        import jax
        trainable, non_trainable, optimizer_vars, metric_vars = state
        inputs, non_trainable = self._run_stateless(lambda: self._step_inputs(data),
                                                    trainable, non_trainable)

        def loss_fn(trainable, non_trainable):
            (loss, values), non_trainable = self._run_stateless(
                lambda: self._step_loss(*inputs), trainable, non_trainable)
            return loss, (values, non_trainable)

        (_, (values, non_trainable)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            trainable, non_trainable)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads,
                                                                   trainable)
        with keras.StatelessScope(state_mapping=list(zip(self.metrics_variables,
                                                         metric_vars))) as scope:
            logs = self._update_metrics(values)
        metric_vars = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, (trainable, non_trainable, optimizer_vars, metric_vars)

    def test_step(self, *args):
        raise NotImplementedError("SelfDistillationTrainer has no evaluation step; evaluate "
                                  "trainer.student instead")

    def get_config(self):
        raise NotImplementedError("SelfDistillationTrainer is not saved; save the product "
                                  "with trainer.student.save(path)")
