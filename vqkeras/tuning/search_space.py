"""The codebook search space: codebook size, codebook dimension, distance
and Adam learning rate, the checks of a config's `search` section, and the
Keras Tuner hyperparameters it declares."""
import numpy as np

# Searched arguments: hyperparameter name -> what it sets.
SEARCHED = ("codebook_size", "codebook_dim", "distance", "learning_rate")
DISTANCES = ("cosine", "euclidean")

DEFAULT_SEARCH_SPACE = {
    "codebook_size": {"min": 256, "max": 8192},  # powers of two in between
    "codebook_dim": [16, 32, 64, 128],
    "distance": ["cosine", "euclidean"],
    "learning_rate": {"min": 1e-5, "max": 1e-3},  # log-uniform
}


def _powers_of_two(low, high):
    values, p = [], 1
    while p <= high:
        if p >= low:
            values.append(p)
        p *= 2
    return values


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"search.{name}: expected positive integers, got {value!r}")
    return int(value)


def _positive_float(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"search.{name}: expected positive numbers, got {value!r}")
    return float(value)


def _int_choices(name, spec):
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - {"min", "max"})
        if unknown or not {"min", "max"} <= set(spec):
            raise ValueError(f"search.{name}: a range is {{min: A, max: B}} (powers of two "
                             f"from A to B), got keys {sorted(spec)}")
        low, high = _positive_int(name, spec["min"]), _positive_int(name, spec["max"])
        values = _powers_of_two(low, high)
        if not values:
            raise ValueError(f"search.{name}: no power of two between {low} and {high}")
        return tuple(values)
    values = spec if isinstance(spec, (list, tuple)) else [spec]
    if not values:
        raise ValueError(f"search.{name}: empty list of values")
    return tuple(sorted({_positive_int(name, v) for v in values}))


def normalize_search_space(space=None):
    """Checks a search space and fills in the defaults.

    Accepted forms, per key (missing keys take `DEFAULT_SEARCH_SPACE`):

    - `codebook_size`, `codebook_dim`: a list of integers (choices), one
      integer (fixed) or `{min: A, max: B}` (every power of two from A to B).
    - `distance`: `"cosine"`, `"euclidean"` or a list of both.
    - `learning_rate`: `{min: A, max: B}` (log-uniform), a list of numbers
      (choices) or one number (fixed).

    Args:
        space: dict or None.

    Returns:
        A dict: `codebook_size` and `codebook_dim` as sorted tuples of ints,
        `distance` as a tuple of names, `learning_rate` as
        `("log_uniform", low, high)` or `("choice", values)`.

    Raises:
        ValueError: an unknown key or a value of the wrong form.
    """
    space = dict(space or {})
    unknown = sorted(set(space) - set(SEARCHED))
    if unknown:
        raise ValueError(f"unknown search key(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(SEARCHED)}")
    merged = {key: space.get(key, DEFAULT_SEARCH_SPACE[key]) for key in SEARCHED}
    result = {name: _int_choices(name, merged[name]) for name in ("codebook_size", "codebook_dim")}

    distance = merged["distance"]
    distance = list(distance) if isinstance(distance, (list, tuple)) else [distance]
    bad = [d for d in distance if d not in DISTANCES]
    if bad or not distance:
        raise ValueError(f"search.distance: choose from {', '.join(DISTANCES)}, got {distance!r}")
    result["distance"] = tuple(d for d in DISTANCES if d in distance)

    rate = merged["learning_rate"]
    if isinstance(rate, dict):
        if set(rate) != {"min", "max"}:
            raise ValueError("search.learning_rate: a range is {min: A, max: B} (log-uniform), "
                             f"got keys {sorted(rate)}")
        low = _positive_float("learning_rate", rate["min"])
        high = _positive_float("learning_rate", rate["max"])
        if low > high:
            raise ValueError(f"search.learning_rate: min {low:g} is above max {high:g}")
        result["learning_rate"] = (("log_uniform", low, high) if low < high
                                   else ("choice", (low,)))
    else:
        values = rate if isinstance(rate, (list, tuple)) else [rate]
        if not values:
            raise ValueError("search.learning_rate: empty list of values")
        result["learning_rate"] = ("choice", tuple(sorted({_positive_float("learning_rate", v)
                                                           for v in values})))
    return result


def _choice(hp, name, values):
    if len(values) == 1:
        return hp.Fixed(name, values[0])
    return hp.Choice(name, list(values))


def declare_hyperparameters(hp, space):
    """Declares the searched hyperparameters of a normalised `space` (see
    `normalize_search_space`) on `hp` and returns their current values.

    A single value is declared `Fixed`, several `Choice`; a learning-rate
    range is a log-uniform `Float`.

    Returns:
        A dict with `codebook_size`, `codebook_dim`, `distance` and
        `learning_rate`.
    """
    values = {
        "codebook_size": _choice(hp, "codebook_size", space["codebook_size"]),
        "codebook_dim": _choice(hp, "codebook_dim", space["codebook_dim"]),
        "distance": _choice(hp, "distance", space["distance"]),
    }
    kind, *rest = space["learning_rate"]
    if kind == "log_uniform":
        values["learning_rate"] = hp.Float("learning_rate", rest[0], rest[1], sampling="log")
    else:
        values["learning_rate"] = _choice(hp, "learning_rate", rest[0])
    return values
