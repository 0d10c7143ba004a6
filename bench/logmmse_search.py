"""Search over the `logmmse_prior` gain of the bundled enhancer, per SNR.

    nice -n 10 python bench/logmmse_search.py [--noises val] [--items 12]
        [--snrs 0 5 10 20] [--variants NAME ...] [--model M.keras] [--dnsmos]

The model runs once per item (its features, decoded magnitude and latent
codes are cached under runs/logmmse_search/); each variant then only
recomputes the gain in numpy and resynthesises the input's own STFT
(`SpectralResynthesis(scale_input=True)`), so one variant costs little more
than scoring it. Prints PESQ and STOI per SNR for each variant. A variant is
a dict of settings for `numpy_gain`; `baseline` is the current default
(`LOGMMSE_DEFAULTS`, translated by `numpy_settings`), which `numpy_gain`
reproduces. Tune on `--noises val`
only; confirm the choice once on `--noises test`.
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.special import exp1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))


def log(message):
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------- the maths
def moving_mean(values, frames, weights=None):
    """Centred moving average over axis 0 of [time, freq], edges averaged
    over the frames that exist (optionally weighted)."""
    if frames <= 1:
        return values
    if weights is None:
        weights = np.ones_like(values)
    half = frames // 2
    pad = ((half + 1, half), (0, 0))
    total = np.cumsum(np.pad(values * weights, pad), axis=0)
    count = np.cumsum(np.pad(weights * np.ones_like(values), pad), axis=0)
    total = total[frames:] - total[:-frames]
    count = count[frames:] - count[:-frames]
    return total / np.maximum(count, 1e-6), count


def smooth(values, frames):
    return moving_mean(values, frames)[0] if frames > 1 else values


def lsa(xi, gamma):
    r = xi / (1 + xi)
    return r * np.exp(0.5 * exp1(np.maximum(r * gamma, 1e-8)))


def smooth_freq(gain, bins):
    if bins <= 1:
        return gain
    return moving_mean(gain.T, bins)[0].T


def posterior_presence(power, noise, xi_db, frames):
    """A-posteriori speech presence per bin with a fixed typical speech SNR
    of `xi_db` (Gerkmann and Hendriks 2012), from the power smoothed over
    `frames` frames."""
    x1 = 10 ** (xi_db / 10)
    g = smooth(power, frames) / noise
    return 1 / (1 + (1 + x1) * np.exp(-g * x1 / (1 + x1)))


def min_stats(power, s):
    smoothed = smooth(power, s["noise_smooth_frames"])
    minimum = minimum_filter1d(smoothed, s["noise_window_frames"], axis=0, mode="nearest")
    return np.maximum(np.minimum(s["noise_bias"] * minimum, smoothed), 1e-10), smoothed


def magnitude(wave, frames, n_fft=512, hop=128):
    """|STFT| as the model's features (periodic Hann, centred, reflect)."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    padded = np.pad(wave.astype(np.float64), n_fft // 2, mode="reflect")
    index = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None]
    index = np.minimum(index, padded.size - 1)
    return np.abs(np.fft.rfft(padded[index] * window, axis=-1))


def spp_noise(power, prior, noise, smoothed, s):
    """The noise power steered by speech presence (see the variants)."""
    spp_mode = s.get("spp", None)
    if not spp_mode:
        return noise

    # speech presence per bin from the model's prior SNR against the
    # minimum-statistics noise: p = xi / (xi + c)
    xi_p = smooth(prior, s.get("spp_smooth", 1)) / noise
    if spp_mode == "prior":
        p = xi_p / (xi_p + s.get("spp_c", 1.0))
    elif spp_mode == "hard":
        p = (xi_p > s.get("spp_c", 1.0)).astype(float)
    elif spp_mode == "gerkmann":
        p = posterior_presence(power, noise, s.get("spp_xi_db", 15), s.get("spp_smooth", 1))
    elif spp_mode == "both":
        pg = posterior_presence(power, noise, s.get("spp_xi_db", 15), s.get("spp_smooth", 1))
        pm = xi_p / (xi_p + s.get("spp_c", 1.0))
        p = np.maximum(pg, pm) if s.get("spp_join", "max") == "max" else pg * pm
    # spread presence in time (speech is present near where it is sure)
    dil = s.get("spp_dilate", 1)
    if dil > 1:
        p = maximum_filter1d(p, dil, axis=0)
    weights = np.clip(1.0 - p, 0.0, 1.0)
    window = s.get("spp_window", 31)
    tracked, count = moving_mean(power, window, weights)
    share = count / window  # how much of the window is noise-only
    need = s.get("spp_min_share", 0.1)
    trust = np.clip(share / need, 0.0, 1.0)
    tracked = s.get("spp_scale", 1.0) * tracked
    combine = s.get("spp_combine", "blend")
    if combine == "blend":
        noise = trust * tracked + (1 - trust) * noise
    elif combine == "max":
        noise = np.maximum(noise, trust * tracked + (1 - trust) * noise)
    noise = np.maximum(np.minimum(noise, smoothed * s.get("spp_cap", 1e9)), 1e-10)
    return noise


def numpy_gain(noisy, decoded, s, z=None, zq=None, oracle=None):
    """The gain [frames, bins] for one item; `s` holds the settings of
    `PriorLogMMSEGain` plus experimental ones: `spp` ("prior": presence from
    the decoded-speech-to-noise ratio, "gerkmann": from the input's
    a-posteriori SNR, "both") with `spp_window`, `spp_smooth`, `spp_xi_db`,
    `spp_c`, `spp_iter`, ... for the presence-weighted noise average;
    `w_mode="conf"` (prior weight from the per-frame quantisation error);
    `mix_dg` ("geo", "max", "snr" with `mix_snr_db`, `mix_share`) for the mix
    with the decoder's gain; `oracle_noise` / `oracle_prior` (true noise or
    clean magnitude, for the bound)."""
    power, prior = noisy.astype(np.float64) ** 2, decoded.astype(np.float64) ** 2
    noise, smoothed = min_stats(power, s)
    if s.get("oracle_noise"):
        noise = np.maximum(smooth(oracle["noise"] ** 2, s["noise_smooth_frames"]), 1e-10)
    if s.get("oracle_prior"):
        prior = oracle["clean"] ** 2
    for _ in range(s.get("spp_iter", 1)):
        noise = spp_noise(power, prior, noise, smoothed, s)
    gamma = np.minimum(power / noise, 1e4)
    xi_min = 10 ** (s["min_prior_snr_db"] / 10)
    xi_ml = np.maximum(gamma - 1, 0)
    first = np.minimum(lsa(np.maximum(xi_ml, xi_min), gamma), 1.0)
    previous = np.zeros_like(first)
    previous[1:] = (first ** 2 * gamma)[:-1]
    a = s["dd_alpha"]
    xi_dd = a * previous + (1 - a) * xi_ml
    w = s["prior_weight"]
    conf = None
    if s.get("conf") and z is not None:
        err = np.sum((z - zq) ** 2, -1) / np.maximum(np.sum(z ** 2, -1), 1e-12)
        conf = err  # relative quantisation error per frame
    if s.get("w_mode") == "conf" and conf is not None:
        lo, hi = s["w_range"]
        e0, e1 = s["err_range"]
        t = np.clip((conf - e0) / (e1 - e0), 0, 1)[:, None]
        w = hi + (lo - hi) * t
    xi = w * prior / noise + (1 - w) * xi_dd
    gain = lsa(np.maximum(xi, xi_min), gamma)
    gain = smooth_freq(gain, s["smoothing_bins"])
    if s.get("mix_dg"):
        ratio = smooth_freq(prior, 9) / np.maximum(smooth_freq(power, 9), 1e-12)
        dg = np.minimum(np.maximum(ratio, 1e-30) ** 0.25, 1.0)
        if s["mix_dg"] == "snr":
            lo, hi = s["mix_snr_db"]
            seg = smooth(np.sum(power, -1, keepdims=True), 31) / np.sum(noise, -1, keepdims=True)
            seg = 10 * np.log10(np.maximum(seg - 1, 1e-3))
            beta = s.get("mix_share", 0.5) * np.clip((hi - seg) / (hi - lo), 0, 1)
            gain = gain ** (1 - beta) * dg ** beta
        else:
            gain = np.maximum(gain, dg) if s["mix_dg"] == "max" else np.sqrt(gain * dg)
    floor = 10 ** (s["gain_floor_db"] / 20)
    if s.get("noise_floor_db") is not None:
        # experimental: a deeper floor where the input holds no speech (the
        # a-posteriori presence of `spp_noise`, against the final noise),
        # the usual floor where it does; geometric blend per bin
        p = posterior_presence(power, noise, s.get("spp_xi_db", 15), s.get("floor_smooth", 3))
        if s.get("floor_frame"):
            p = np.repeat(np.mean(p, -1, keepdims=True), p.shape[-1], -1)
        floor = 10 ** ((p * s["gain_floor_db"] + (1 - p) * s["noise_floor_db"]) / 20)
    gain = np.clip(gain, floor, 1.0)
    return gain.astype(np.float32)


# ------------------------------------------------------------ evaluation
def numpy_settings(logmmse):
    """The model's `logmmse` settings in `numpy_gain`'s terms: the
    presence-weighted noise becomes `spp="gerkmann"` and the low-SNR mix
    `mix_dg="snr"`, so `baseline` is the model's own gain. A variant turns
    either off with `{"spp": null}` or `{"mix_dg": null}`."""
    s = dict(logmmse)
    if s.get("noise_presence_window_frames", 0) > 0:
        s.update(spp="gerkmann", spp_window=s["noise_presence_window_frames"],
                 spp_xi_db=s["noise_presence_snr_db"], spp_smooth=3,
                 spp_iter=s["noise_presence_iterations"])
    if s.get("decoder_mix", 0.0) > 0.0:
        s.update(mix_dg="snr", mix_share=s["decoder_mix"],
                 mix_snr_db=[s["decoder_mix_low_db"], s["decoder_mix_high_db"]])
    return s


def cache_outputs(model, noisy, path):
    from vqkeras.inference import run_model as run_outputs

    if os.path.exists(path):
        data = np.load(path, allow_pickle=True)
        return list(data["cached"])
    cached = []
    for w in noisy:
        out = run_outputs(model, [w], keys=("features", "decoded", "z", "zq"))[0]
        cached.append({"noisy": np.expm1(out["features"]), "decoded": np.expm1(out["decoded"]),
                       "z": out["z"], "zq": out["zq"]})
    np.savez(path, cached=np.array(cached, dtype=object))
    return cached


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--noises", choices=["val", "test"], default="val")
    p.add_argument("--items", type=int, default=12)
    p.add_argument("--snrs", type=float, nargs="+", default=[0, 5, 10, 20])
    p.add_argument("--variants", help="JSON {name: settings} added to the defaults")
    p.add_argument("--model", default=None)
    p.add_argument("--dnsmos", action="store_true", help="also print DNSMOS OVRL per SNR")
    args = p.parse_args()

    from keras import ops

    from enhancement_quality import build_sets, load_set
    from vqkeras.api import load_model
    from vqkeras.evaluation.metrics import pesq_wb, stoi
    from vqkeras.layers.spectral_resynthesis import SpectralResynthesis

    labels, _ = build_sets(args.noises, args.items, ["noise"])["noise"]
    items, noisy, clean = load_set(labels, 16000)
    keep = [i for i, it in enumerate(items) if it["snr"] in args.snrs]
    snr = np.array([items[i]["snr"] for i in keep])
    noisy, clean = [noisy[i] for i in keep], [clean[i] for i in keep]
    model = load_model(args.model, task="se")
    folder = os.path.join(ROOT, "runs", "logmmse_search")
    os.makedirs(folder, exist_ok=True)
    tag = "_".join(f"{v:g}" for v in args.snrs)
    # the cache is per model file: another model's outputs are never reused
    from vqkeras.api import BUNDLED
    with open(args.model or BUNDLED["se"], "rb") as f:
        model_tag = hashlib.sha1(f.read()).hexdigest()[:12]
    cached = cache_outputs(model, noisy, os.path.join(
        folder, f"{args.noises}_{args.items}_{tag}_{model_tag}.npz"))
    synth = SpectralResynthesis(model.fft_length, model.hop_length, scale_input=True)
    base = numpy_settings(model.logmmse)
    variants = {"baseline": {}}
    if args.variants:
        variants.update(json.loads(args.variants))
    dnsmos = None
    if args.dnsmos:
        from enhancement_quality import SHARED
        from vqkeras.data.validation_split import default_split
        from vqkeras.evaluation.dnsmos import DNSMOS
        dnsmos = DNSMOS(default_split(SHARED)["dnsmos_model"], num_threads=1)
    levels = sorted(set(snr))
    header = "".join(f"{v:>7g}dB" for v in levels)
    print(f"{'variant':<28s} PESQ {header}    mean | STOI {header}    mean", flush=True)
    for name, settings in variants.items():
        start = time.time()
        s = dict(base, **settings)
        pesq_values, stoi_values, dnsmos_values = [], [], []
        for c, w, out in zip(clean, noisy, cached):
            oracle = None
            if s.get("oracle_noise") or s.get("oracle_prior"):
                frames = len(out["noisy"])
                oracle = {"noise": magnitude(w - c, frames), "clean": magnitude(c, frames)}
            gain = numpy_gain(out["noisy"], out["decoded"], s, out["z"], out["zq"], oracle)
            e = ops.convert_to_numpy(synth(gain[None], w[None], np.array([len(w)], np.int32)))[0]
            pesq_values.append(pesq_wb(c, e))
            stoi_values.append(stoi(c, e))
            if dnsmos is not None:
                dnsmos_values.append(dnsmos.score(e, 16000)["ovrl"])
        pv, sv = np.array(pesq_values), np.array(stoi_values)
        prow = "".join(f"{np.nanmean(pv[snr == v]):>9.3f}" for v in levels)
        srow = "".join(f"{np.nanmean(sv[snr == v]):>9.3f}" for v in levels)
        print(f"{name:<28s}      {prow} {np.nanmean(pv):7.3f} |      {srow} {np.nanmean(sv):7.3f}"
              f"   ({time.time() - start:.0f} s)", flush=True)
        if dnsmos is not None:
            dv = np.array(dnsmos_values)
            drow = "".join(f"{np.nanmean(dv[snr == v]):>9.3f}" for v in levels)
            print(f"{'':<28s} DNSMOS {drow} {np.nanmean(dv):7.3f}", flush=True)


if __name__ == "__main__":
    main()
