"""The two tasks vqkeras models do, in one registry.

`qe` (quality estimation, VQScore) and `se` (speech enhancement): which
model class does each, what it outputs, which presets and bundled model it
has, and how messages name its models. Everything that needs one of these
facts looks it up here. Plain data: importing this module imports neither
Keras nor any other vqkeras module.
"""
import os
from dataclasses import dataclass

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


@dataclass(frozen=True)
class Task:
    """What vqkeras knows about one task.

    Attributes:
        name: str. `"qe"` or `"se"`, as the CLI's `--task` and recipes say it.
        title: str. What the task does, e.g. `"quality estimation"`.
        model_kind: str. Its models in a sentence, e.g.
            `"a quality-estimation model"`.
        model_class: str. The class name of its models (`vqkeras.models`).
        output: str. The serving output of its models (`vqscore` or
            `enhanced`).
        bundled_model: str. File name of the bundled default model in
            `WEIGHTS_DIR`.
        paper_preset: str. The preset with the paper's configuration.
        tiny_preset: str. The smallest preset, for tests and smoke runs.
    """

    name: str
    title: str
    model_kind: str
    model_class: str
    output: str
    bundled_model: str
    paper_preset: str
    tiny_preset: str

    @property
    def bundled_path(self):
        """Path of the bundled default model (it may be absent from a checkout)."""
        return os.path.join(WEIGHTS_DIR, self.bundled_model)


QUALITY_ESTIMATION = Task(
    name="qe", title="quality estimation", model_kind="a quality-estimation model",
    model_class="VQScoreModel", output="vqscore", bundled_model="vqscore-default.keras",
    paper_preset="vqscore-paper", tiny_preset="vqscore-tiny")
ENHANCEMENT = Task(
    name="se", title="speech enhancement", model_kind="an enhancement model",
    model_class="VQEnhancerModel", output="enhanced", bundled_model="enhancer-default.keras",
    paper_preset="enhancer-paper", tiny_preset="enhancer-tiny")

TASKS = {task.name: task for task in (QUALITY_ESTIMATION, ENHANCEMENT)}
NAMES = tuple(TASKS)


def get_task(name):
    """The `Task` called `name` (`"qe"` or `"se"`).

    Raises:
        ValueError: no such task.
    """
    if isinstance(name, Task):
        return name
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown task {name!r}; expected "
                         f"{' or '.join(repr(n) for n in NAMES)}.") from None


def bundled_named(name):
    """The `Task` whose bundled default model is called `name`, with or
    without `.keras` (`"vqscore-default"`, `"enhancer-default.keras"`), or None."""
    if not isinstance(name, str):
        return None
    return next((t for t in TASKS.values()
                 if name in (t.bundled_model, os.path.splitext(t.bundled_model)[0])), None)


def task_of_class(class_name):
    """The `Task` whose models are of class `class_name`, or None."""
    return next((t for t in TASKS.values() if t.model_class == class_name), None)
