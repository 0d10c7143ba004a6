"""Table of bench/gpu_check.sh results: each Keras backend's training step
beside the plain-PyTorch peer's, as a ratio (target: fastest <= 1.2x).

    python bench/gpu_summary.py gpu_check.jsonl
"""
import json
import sys


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    peers = {r["peer"]: r for r in rows if "peer" in r}
    eager = peers.get("plain-pytorch")
    print(f"{'run':34s} {'steps/s':>8s} {'samples/s':>10s} {'peak MiB':>9s} {'loss fell':>10s} "
          f"{'x peer':>7s}")
    for r in rows:
        if "peer" in r:
            label, fell, ratio = r["peer"], "-", "-"
        elif "model" in r:
            label = f"{r['model']} {r['backend']}"
            fell = f"{r['loss_first']:.2f}->{r['loss_last']:.2f}" if r.get("loss_fell") is not None else "-"
            ratio = (f"{r['seconds_per_step'] / eager['seconds_per_step']:.2f}"
                     if eager and r["model"] == "vqscore-paper" else "-")
        else:
            continue
        print(f"{label:34s} {r['steps_per_s']:8.2f} {r['samples_per_s']:10.0f} "
              f"{r.get('peak_mib', float('nan')):9.0f} {fell:>10s} {ratio:>7s}")
    qe = [r for r in rows if r.get("model") == "vqscore-paper"]
    if eager and qe:
        best = min(qe, key=lambda r: r["seconds_per_step"])
        ratio = best["seconds_per_step"] / eager["seconds_per_step"]
        verdict = "meets" if ratio <= 1.2 else "misses"
        print(f"fastest backend for vqscore-paper: {best['backend']} at {ratio:.2f}x the plain-PyTorch "
              f"step ({verdict} the 1.2x target)")
        if "plain-pytorch-compiled" in peers:
            c = peers["plain-pytorch-compiled"]
            print(f"against the torch.compile'd peer: {best['seconds_per_step'] / c['seconds_per_step']:.2f}x")


if __name__ == "__main__":
    main()
