"""How trials and their hyperparameters are written in progress lines and
tables."""


def format_value(value):
    """A hyperparameter value as text (floats to 3 significant digits)."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def hp_text(values):
    """`name=value ...` of the searched hyperparameters (the tuner's own
    `tuner/...` entries left out)."""
    return " ".join(f"{k}={format_value(v)}" for k, v in values.items()
                    if not k.startswith("tuner/"))


def score_text(score):
    """A trial's objective value to 4 decimals, `-` when it has none."""
    return "-" if score is None else f"{score:.4f}"
