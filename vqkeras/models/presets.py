"""Named model configurations, as plain data (as keras-hub keeps them).

Each preset names its task (`vqkeras.tasks`: the task says which model
class builds it), says what it is for, and holds the constructor arguments.
`VQVAEModel.from_preset(name)` (and the classes that inherit it) builds
one; this module imports no model code.
"""
PRESETS = {
    "vqscore-paper": {
        "task": "qe",
        "description": "Quality estimation, paper configuration (2048 x 32 cosine codebook).",
        "config": {"codebook_size": 2048, "codebook_dim": 32, "hidden_dims": [128, 64],
                   "hop_length": 256},
    },
    "vqscore-tiny": {
        "task": "qe",
        "description": "Tiny quality estimator for tests and smoke runs.",
        "config": {"codebook_size": 64, "codebook_dim": 16, "hidden_dims": [32, 24],
                   "hop_length": 256},
    },
    "enhancer-paper": {
        "task": "se",
        "description": "Enhancement, paper configuration (4096 x 128 Euclidean codebook).",
        "config": {"codebook_size": 4096, "codebook_dim": 128, "hidden_dims": [200, 150],
                   "hop_length": 128},
    },
    "enhancer-small": {
        "task": "se",
        "description": "Enhancer for CPU budgets: paper layout at about 40% of its width "
                       "(1024 x 64 Euclidean codebook); the bundled default.",
        "config": {"codebook_size": 1024, "codebook_dim": 64, "hidden_dims": [128, 96],
                   "hop_length": 128, "num_transformer_layers": 2, "num_heads": 4},
    },
    "enhancer-tiny": {
        "task": "se",
        "description": "Tiny enhancer for tests and smoke runs.",
        "config": {"codebook_size": 64, "codebook_dim": 32, "hidden_dims": [48, 40],
                   "hop_length": 128, "num_transformer_layers": 1, "num_heads": 4},
    },
}


def get_preset(name):
    """The preset called `name` (a dict with `task`, `description`, `config`).

    Raises:
        ValueError: no such preset; the message lists the presets.
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Available: {', '.join(sorted(PRESETS))}")
    return PRESETS[name]
