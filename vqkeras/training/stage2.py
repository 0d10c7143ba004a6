"""Stage-2 enhancement training run: self-distillation from a stage-1 model."""
import os
import sys
import time

import keras

from vqkeras.tf_guard import set_random_seed
from vqkeras.training.callbacks import HistoryCSV, StepTimer, StopOnNaN, atomic_save, fit_summary
from vqkeras.training.mixed_precision import check_policy, dtype_policy_scope
from vqkeras.training.self_distillation import SelfDistillationTrainer


def save_student(trainer, path):
    """Saves `trainer.student` atomically (on JAX after fetching the live
    training state into the variables)."""
    if keras.backend.backend() == "jax":
        trainer.jax_state_sync()
    atomic_save(trainer.student, path)


class StudentCheckpoint(keras.callbacks.Callback):
    """Saves the student as `student_{step:07d}.keras` every `every_steps`
    training steps."""

    def __init__(self, directory, every_steps=1000):
        super().__init__()
        self.directory = directory
        self.every_steps = every_steps
        self.step = 0
        self.saved = []

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.every_steps and self.step % self.every_steps == 0:
            path = os.path.join(self.directory, f"student_{self.step:07d}.keras")
            save_student(self.model, path)
            self.saved.append(path)


def _is_dataset(value):
    """A ready dataset (tf.data or PyDataset) rather than audio sources;
    tells a tf.data.Dataset without importing TensorFlow."""
    if isinstance(value, keras.utils.PyDataset):
        return True
    return any(c.__module__.startswith("tensorflow") and c.__name__.endswith("Dataset")
               for c in type(value).__mro__)


def train_stage2(stage1_model_path, files_or_dataset, steps, output_dir, batch_size=8,
                 learning_rate=1e-5, seed=0, crop_seconds=3.0, checkpoint_every=1000,
                 steps_per_epoch=100, epsilon_range=(0.03, 0.55), ce_weight=1.0,
                 reconstruction_weight=45.0, beta_1=0.5, beta_2=0.9, verbose="auto",
                 extra_callbacks=(), pipeline="auto", workers=None, dtype_policy=None):
    """Self-distillation with adversarial training, from a stage-1 enhancer.

    Writes into `output_dir`: `student_XXXXXXX.keras` every `checkpoint_every`
    steps, `student_final.keras`, `history.csv` and `summary.json`. Each
    student file is a plain `VQEnhancerModel` (`vqkeras.load_model(path,
    task="se")`).

    Args:
        stage1_model_path: `.keras` file of the stage-1 enhancer (or the
            model itself).
        files_or_dataset: clean-speech sources (files, folders, globs,
            manifests) or a dataset (tf.data or `keras.utils.PyDataset`) of
            `{"waveform", "length"}` batches.
        steps: int. Training steps (rounded up to whole epochs).
        output_dir: str.
        batch_size, crop_seconds: crops per batch and their length (ignored
            for a dataset).
        learning_rate, beta_1, beta_2: Adam settings (betas as stage 1).
        seed: int. Data order, crops and noise levels.
        checkpoint_every: int. Steps between student checkpoints.
        steps_per_epoch: int. Steps between log lines.
        epsilon_range, ce_weight, reconstruction_weight: see
            `SelfDistillationTrainer`.
        pipeline: "auto" (tf.data on TensorFlow, the numpy `CropDataset`
            elsewhere), "tf" or "numpy".
        workers: int or None. Worker processes of the numpy pipeline.
        dtype_policy: None (float32) or "mixed_bfloat16". (The
            self-distillation step has no loss scaling, so not float16.)

    Returns:
        The summary dict (also in `summary.json`).
    """
    from vqkeras.data.training_dataset import make_pipeline

    steps = int(steps)
    os.makedirs(output_dir, exist_ok=True)
    set_random_seed(seed)
    steps_per_epoch = max(1, min(int(steps_per_epoch), steps))
    data_callbacks = []
    if _is_dataset(files_or_dataset):
        dataset = files_or_dataset
    else:
        dataset, data_callbacks, _ = make_pipeline(
            files_or_dataset, pipeline=pipeline, batch_size=batch_size,
            crop_seconds=crop_seconds, seed=seed, steps_per_epoch=steps_per_epoch,
            workers=workers)
    if check_policy(dtype_policy) == "mixed_float16":
        raise ValueError("stage 2 supports dtype_policy mixed_bfloat16 (or float32), not "
                         "mixed_float16: its training step has no loss scaling")
    with dtype_policy_scope(dtype_policy):
        trainer = SelfDistillationTrainer.from_stage1(
            stage1_model_path, epsilon_range=epsilon_range, ce_weight=ce_weight,
            reconstruction_weight=reconstruction_weight, seed=seed)
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta_1,
                                                    beta_2=beta_2))
    epochs = max(1, -(-steps // steps_per_epoch))
    timer, nan_guard = StepTimer(), StopOnNaN()
    callbacks = data_callbacks + [
        nan_guard, timer, StudentCheckpoint(output_dir, checkpoint_every),
        HistoryCSV(os.path.join(output_dir, "history.csv"))]
    callbacks += list(extra_callbacks)
    start = time.time()
    try:
        history = trainer.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                              callbacks=callbacks, verbose=verbose, shuffle=False)
    finally:
        if hasattr(dataset, "close"):
            dataset.close()  # stops numpy-pipeline workers
    final = os.path.join(output_dir, "student_final.keras")
    save_student(trainer, final)
    stage1 = None if isinstance(stage1_model_path, keras.Model) else os.fspath(stage1_model_path)
    summary = fit_summary(history, timer, nan_guard, start, final, output_dir,
                          stage1_model=stage1, steps=steps)
    if nan_guard.message:
        print(f"vqkeras stage 2: {nan_guard.message}", file=sys.stderr)
    return summary
