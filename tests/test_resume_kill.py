"""Fault injection: `vqkeras score` and
`vqkeras enhance` in a subprocess, killed with SIGKILL while writing, then
resumed; and a reader that closes the pipe early."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from conftest import ROOT, synth_speech, tiny_saved_model
from test_cli import read_csv
from vqkeras.cli.main import main

# Runs `vqkeras ARGS` with a pause before each scored batch or enhanced
# group, and stops for good (waiting to be killed) in the middle of writing
# row / file number CUT_AT: half of it is on disk, flushed.
DRIVER = r"""
import builtins, io, os, sys, time
import vqkeras.audio, vqkeras.enhancing, vqkeras.scoring
from vqkeras.cli.main import main

cut_at = int(sys.argv[1])
def slow(real):
    def run(*a, **k):
        time.sleep(0.2)
        return real(*a, **k)
    return run
vqkeras.scoring.score_batch = slow(vqkeras.scoring.score_batch)
vqkeras.enhancing.enhance_many = slow(vqkeras.enhancing.enhance_many)

count = [0]
def stop_halfway(text, f):
    f.write(text[:len(text) // 2])
    f.flush()
    print("CUT", flush=True)
    time.sleep(600)

class CutRows:
    # The score output stream: row number cut_at is written halfway.
    def __init__(self, f):
        self._f = f
    def write(self, text):
        if not text.startswith("path,"):
            count[0] += 1
            if count[0] >= cut_at:
                stop_halfway(text, self._f)
        return self._f.write(text)
    def __getattr__(self, name):
        return getattr(self._f, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self._f.__exit__(*exc)

real_open = builtins.open
def open_(file, mode="r", *a, **k):
    f = real_open(file, mode, *a, **k)
    name = os.path.basename(str(file))
    if name in ("out.csv", "out.json.partial") and ("w" in mode or "a" in mode):
        return CutRows(f)
    return f
builtins.open = open_

real_write = vqkeras.audio.sf.write
def write(path, data, rate, **kw):
    # enhance: file number cut_at is written halfway (to its temporary name)
    count[0] += 1
    if count[0] < cut_at:
        return real_write(path, data, rate, **kw)
    buf = io.BytesIO()
    real_write(buf, data, rate, **kw)
    with real_open(path, "wb") as f:
        stop_halfway(buf.getvalue(), f)
vqkeras.audio.sf.write = write
sys.exit(main(sys.argv[2:]))
"""


def run_until_cut(args, cut_at, timeout=240):
    """Starts the driver, waits until it is stuck halfway through a write,
    and kills it with SIGKILL."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(cut_at), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout
    # A driver that hangs before the cut is killed: readline then ends.
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        line = proc.stdout.readline()
        assert line.strip() == "CUT", (line, proc.stderr.read() if proc.poll() is not None else "")
        assert time.time() < deadline
    finally:
        killer.cancel()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    for k in range(6):
        sf.write(root / f"f{k}.wav", synth_speech(0.4 + 0.15 * k, seed=k), 16000)
    return root


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_score_killed_mid_row_resumes_to_the_uninterrupted_result(tmp_path, files, suffix):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    clean = tmp_path / f"clean.{suffix}"
    out = tmp_path / f"out.{suffix}"
    args = ["score", str(files), "--model", model, "--batch-size", "1", "-q"]
    assert main([*args, "-o", str(clean)]) == 0
    run_until_cut([*args, "-o", str(out)], cut_at=3)
    stream = out if suffix == "csv" else tmp_path / f"out.{suffix}.partial"
    cut = stream.read_text()
    assert not cut.endswith("\n") and len(cut.splitlines()) >= 2  # a row cut by the kill
    assert main([*args, "-o", str(out), "--resume"]) == 0

    def rows(path):
        return read_csv(path) if suffix == "csv" else json.loads(path.read_text())

    got, expected = rows(out), rows(clean)
    assert [r["path"] for r in got] == [r["path"] for r in expected]  # each once, in order
    assert len({r["path"] for r in got}) == 6
    for a, b in zip(got, expected):
        assert abs(float(a["vqscore"]) - float(b["vqscore"])) < 1e-6 and a["error"] == b["error"]
    assert not (tmp_path / f"out.{suffix}.partial").exists()


def test_enhance_killed_while_writing_leaves_no_partial_wav_and_resumes(tmp_path, files):
    model = tiny_saved_model(tmp_path, "enhancer-tiny")
    clean, out = tmp_path / "clean", tmp_path / "out"
    args = ["enhance", str(files), "--model", model, "--batch-size", "1", "-q"]
    assert main([*args, "-o", str(clean)]) == 0
    run_until_cut([*args, "-o", str(out)], cut_at=2)
    written = sorted(p.name for p in out.iterdir())
    assert "f0.wav" in written and any(n.endswith(".part") for n in written)
    for p in out.glob("*.wav"):  # every .wav there is whole
        assert sf.info(p).frames == sf.info(files / p.name).frames
    assert main([*args, "-o", str(out)]) == 2  # outputs exist: needs --resume or --force
    assert main([*args, "-o", str(out), "--resume"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"f{k}.wav" for k in range(6)]
    for k in range(6):
        a, _ = sf.read(out / f"f{k}.wav", dtype="float32")
        b, _ = sf.read(clean / f"f{k}.wav", dtype="float32")
        np.testing.assert_array_equal(a, b)


def test_score_into_a_closed_pipe_exits_quietly(tmp_path, files):
    model = tiny_saved_model(tmp_path, "vqscore-tiny")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, "1000", "score", str(files),
                             "--model", model, "--batch-size", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killer = threading.Timer(240, proc.kill)  # a hang ends the reads below
    killer.start()
    try:
        header = proc.stdout.readline()  # like `| head -1`
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=240)
    finally:
        killer.cancel()
    assert header.startswith(b"path,vqscore")
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 141
