"""The peer for GPU training speed: the quality-estimation VQ-VAE written in
plain PyTorch (no Keras), one training step timed at batch 64 x 3 s.

    python bench/torch_peer_qe.py [--steps 50] [--batch 64] [--compile]

Same architecture and maths as `vqscore-paper`: |STFT| (n_fft 512, hop 256,
periodic Hann, reflect-centred), instance norm, the six kernel-7 encoder
convolutions with their residual sums, a 2048 x 32 cosine codebook updated by
EMA (decay 0.8, Laplace smoothing) with straight-through gradients and a
commitment loss, the six-convolution decoder, cosine reconstruction loss x 45,
Adam (1e-4, betas 0.5/0.9). The codebook starts from random frames instead of
k-means, which only changes the first step (not timed).

Prints one line `RESULT {json}` with seconds per step, steps/s, samples/s and
the peak GPU memory, so `bench/gpu_check.sh` can put it beside our backends.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn


def _conv(c_in, c_out):
    return nn.Conv1d(c_in, c_out, 7, padding=3)


class PeerQualityVQVAE(nn.Module):
    """VQScore's VQ-VAE in plain PyTorch, channels-first [batch, bins, frames]."""

    def __init__(self, bins=257, h1=128, h2=64, dim=32, codes=2048, decay=0.8, eps=1e-5):
        super().__init__()
        self.enc = nn.ModuleList([_conv(bins, h1), _conv(h1, h1), _conv(h1, h2), _conv(h2, h2),
                                  _conv(h2, dim), _conv(dim, dim)])
        self.dec = nn.ModuleList([_conv(dim, dim), _conv(dim, h2), _conv(h2, h2), _conv(h2, h1),
                                  _conv(h1, h1), _conv(h1, bins)])
        self.decay, self.eps, self.codes = decay, eps, codes
        self.register_buffer("embed", F.normalize(torch.randn(codes, dim), dim=-1))
        self.register_buffer("embed_avg", self.embed.clone())
        self.register_buffer("cluster_size", torch.ones(codes))
        self.register_buffer("window", torch.hann_window(512, periodic=True))

    def features(self, wave):
        spec = torch.stft(wave, 512, 256, 512, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)
        return torch.sqrt(torch.clamp(spec.real ** 2 + spec.imag ** 2, min=1e-7))

    @staticmethod
    def _norm(x):
        return F.instance_norm(x, eps=1e-5)

    def encode(self, x):
        act = lambda y: F.leaky_relu(y, 0.3)  # noqa: E731
        x = self._norm(x)
        e1 = self._norm(act(self.enc[0](x)))
        e2 = self._norm(act(self.enc[1](e1)))
        e3 = self._norm(act(self.enc[2](e1 + e2)))
        e4 = self._norm(act(self.enc[3](e3)))
        e5 = self._norm(act(self.enc[4](e3 + e4)))
        return self._norm(self.enc[5](e5))

    def decode(self, q):
        act = lambda y: F.leaky_relu(y, 0.3)  # noqa: E731
        d1 = act(self.dec[0](q))
        d2 = act(self.dec[1](d1))
        d3 = act(self.dec[2](d2))
        d4 = act(self.dec[3](d3 + d2))
        d5 = act(self.dec[4](d4))
        return F.relu(self.dec[5](d5 + d4))

    @torch.no_grad()
    def _ema(self, flat, idx):
        counts = torch.bincount(idx, minlength=self.codes).to(flat.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, idx, flat)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.codes * self.eps) * n
        self.embed.copy_(F.normalize(self.embed_avg / smoothed[:, None], dim=-1))

    def forward(self, wave):
        feats = self.features(wave)                       # [B, 257, T]
        z = self.encode(feats).transpose(1, 2)            # [B, T, 32]
        z = F.normalize(z, dim=-1)
        flat = z.reshape(-1, z.shape[-1])
        idx = torch.argmax(flat @ self.embed.t(), dim=-1)
        zq = self.embed[idx].reshape(z.shape)
        if self.training:
            self._ema(flat.detach(), idx)
        commitment = F.mse_loss(z, zq.detach())
        zq = z + (zq - z).detach()
        decoded = self.decode(zq.transpose(1, 2))
        cos = F.cosine_similarity(feats, decoded, dim=1, eps=1e-5)
        return -45.0 * cos.mean() + commitment


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--compile", action="store_true", help="torch.compile the step")
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = PeerQualityVQVAE().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.5, 0.9))
    samples = int(args.seconds * 16000)
    data = torch.randn(8, args.batch, samples, device=device) * 0.1

    def step(wave):
        opt.zero_grad(set_to_none=True)
        loss = model(wave)
        loss.backward()
        opt.step()
        return loss

    run = torch.compile(step) if args.compile else step
    for i in range(args.warmup):
        run(data[i % 8])
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(args.steps):
        loss = run(data[i % 8])
    loss.item()  # waits for the last step
    seconds = (time.perf_counter() - start) / args.steps
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else float("nan")
    result = {"peer": "plain-pytorch" + ("-compiled" if args.compile else ""), "device": device,
              "seconds_per_step": seconds, "steps_per_s": 1 / seconds,
              "samples_per_s": args.batch / seconds, "peak_mib": peak}
    print("RESULT", json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
