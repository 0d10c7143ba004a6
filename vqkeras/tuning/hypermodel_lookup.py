"""The codebook hypermodel of a task."""
from vqkeras.tuning.enhancer_hypermodel import VQEnhancerHyperModel
from vqkeras.tuning.vqscore_hypermodel import VQScoreHyperModel


def hypermodel_class(task):
    """`VQScoreHyperModel` for `"qe"`, `VQEnhancerHyperModel` for `"se"`."""
    try:
        return {"qe": VQScoreHyperModel, "se": VQEnhancerHyperModel}[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected 'qe' or 'se'") from None
