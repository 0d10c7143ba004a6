"""Conversion of official VQScore PyTorch checkpoints to Keras models."""
import os

import numpy as np

PREFIX_Q = "quantizer.quantizer._codebook."
ENC_CONV = "CNN_1D_encoder.conv_enc{}."
DEC_CONV = "CNN_1D_decoder.conv_dec{}."
ENC_TR = "CNN_1D_encoder.transformer_encoder.layers.{}."
DEC_TR = "CNN_1D_decoder.transformer_decoder.layers.{}."


class CheckpointError(Exception):
    """A file that is not a usable official checkpoint; the message says why."""


def read_state_dict(path):
    """The `['model']['VQVAE']` weights of an official checkpoint as numpy."""
    try:
        import torch
    except ImportError:
        raise CheckpointError("reading PyTorch checkpoints needs torch: "
                              "pip install 'vqkeras[torch]'") from None
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        reason = "unpickling error" if "pickle" in type(err).__name__.lower() or "Weights only" in str(err) \
            else str(err).splitlines()[0][:120]
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({reason})") from None
    try:
        state = checkpoint["model"]["VQVAE"]
    except (KeyError, TypeError, IndexError):
        raise CheckpointError(f"{path}: no ['model']['VQVAE'] weights; "
                              "not an official VQScore checkpoint") from None
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def detect_task(state):
    return "se" if any(".transformer_encoder." in k for k in state) else "qe"


def config_from_state(state, task):
    """Model constructor arguments implied by the checkpoint's shapes."""
    found = detect_task(state)
    if found != task:
        names = {"qe": "a quality-estimation", "se": "an enhancement"}
        raise CheckpointError(f"holds {names[found]} model, not {names[task]} model "
                              f"(use --task {found})")
    try:
        embed = state[PREFIX_Q + "embed"]
        h1 = state[ENC_CONV.format(1) + "weight"].shape[0]
        h2 = state[ENC_CONV.format(3) + "weight"].shape[0]
    except KeyError as err:
        raise CheckpointError(f"missing weight {err.args[0]}") from None
    config = {"codebook_size": int(embed.shape[-2]), "codebook_dim": int(embed.shape[-1]),
              "hidden_dims": [int(h1), int(h2)], "kmeans_init": True}
    if task == "se":
        layers = {int(k.split(".layers.")[1].split(".")[0]) for k in state if ENC_TR[:-4] in k}
        config["num_transformer_layers"] = len(layers)
    return config


def _conv(weight):  # torch [out, in, k] -> keras [k, in, out]
    return np.transpose(weight, (2, 1, 0))


def _transformer_weights(state, prefix):
    g = lambda name: state[prefix + name]  # noqa: E731
    return {
        "in_proj": [g("self_attn.in_proj_weight").T, g("self_attn.in_proj_bias")],
        "out_proj": [g("self_attn.out_proj.weight").T, g("self_attn.out_proj.bias")],
        "linear1": [g("linear1.weight").T, g("linear1.bias")],
        "linear2": [g("linear2.weight").T, g("linear2.bias")],
        "norm1": [g("norm1.weight"), g("norm1.bias")],
        "norm2": [g("norm2.weight"), g("norm2.bias")],
    }


def load_state_into(model, state):
    """Copies official weights into a built vqkeras model (shapes checked)."""
    used = set()

    def take(key):
        if key not in state:
            raise CheckpointError(f"missing weight {key}")
        used.add(key)
        return state[key]

    def assign(layer, values):
        current = layer.get_weights()
        if len(current) != len(values) or any(c.shape != v.shape for c, v in zip(current, values)):
            raise CheckpointError(f"shape mismatch for {layer.name}: "
                                  f"{[c.shape for c in current]} vs {[v.shape for v in values]}")
        layer.set_weights(values)

    for i, layer in enumerate(model.encoder.convs):
        assign(layer, [_conv(take(ENC_CONV.format(i + 1) + "weight")),
                       take(ENC_CONV.format(i + 1) + "bias")])
    for i, layer in enumerate(model.decoder.convs):
        assign(layer, [_conv(take(DEC_CONV.format(i + 1) + "weight")),
                       take(DEC_CONV.format(i + 1) + "bias")])
    for prefix, layers in ((ENC_TR, model.encoder.transformer_layers),
                           (DEC_TR, model.decoder.transformer_layers)):
        for i, layer in enumerate(layers):
            weights = _transformer_weights(state, prefix.format(i))
            for name, values in weights.items():
                assign(getattr(layer, name), values)
            used.update(k for k in state if k.startswith(prefix.format(i)))
    q = model.quantizer
    q.embed.assign(take(PREFIX_Q + "embed")[0])
    q.embed_avg.assign(take(PREFIX_Q + "embed_avg")[0])
    q.cluster_size.assign(take(PREFIX_Q + "cluster_size")[0])
    q.initted.assign(np.float32(take(PREFIX_Q + "initted").reshape(-1)[0]))
    unused = sorted(set(state) - used)
    if unused:
        raise CheckpointError(f"unexpected weights {unused[:3]}{'...' if len(unused) > 3 else ''}")


def convert_checkpoint(path, task):
    """Builds a vqkeras model holding an official checkpoint's weights.

    Args:
        path: official `torch.save` checkpoint (weights under
            `['model']['VQVAE']`).
        task: `"qe"` or `"se"`.
    """
    from vqkeras.models import model_class

    state = read_state_dict(path)
    try:
        config = config_from_state(state, task)
        model = model_class(task)(**config)
        load_state_into(model, state)
    except CheckpointError as err:
        raise CheckpointError(f"{os.fspath(path)}: {err}") from None
    return model
