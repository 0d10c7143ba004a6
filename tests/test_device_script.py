"""The prepared lent-GPU session (bench/gpu_session.sh) runs end to end: the
whole script on the CPU with tiny presets and seconds-long time boxes, on a
speech pack made from synthetic audio. What a first GPU run relies on: every
stage leaves a model that loads, stage 2 starts from stage 1's output, what
comes back fits the device's return limits, and a pack that does not match
its manifest stops the session before any training."""
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tarfile

import pytest
import soundfile as sf

from conftest import BACKEND, ROOT, synth_speech

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                       reason="the device session trains with JAX, which is not installed"),
    # the script sets KERAS_BACKEND=jax itself, so the other passes would repeat the same run
    pytest.mark.skipif(BACKEND != "jax", reason="the device session always runs on JAX; "
                       "it is tested once, in the KERAS_BACKEND=jax pass"),
]

DEADLINE_S = 420  # the whole script; a hang fails here instead of blocking the suite
LIBRI_SPEAKERS = ["19", "26", "27", "32", "39"]


def bench_module(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "bench", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_shared_data(root):
    """A shared-data layout with a few seconds of synthetic speech: five
    LibriSpeech-named speakers (one goes to validation) and one LJ file."""
    libri = os.path.join(root, "speech", "librispeech-train-clean-100")
    lj = os.path.join(root, "speech", "ljspeech-141")
    os.makedirs(libri)
    os.makedirs(lj)
    for k, speaker in enumerate(LIBRI_SPEAKERS):
        sf.write(os.path.join(libri, f"{speaker}-100-0000.flac"), synth_speech(2.0, seed=k), 16000)
    sf.write(os.path.join(lj, "LJ001-0001.flac"), synth_speech(1.5, 22050, seed=9), 22050)
    return root


def run_script(args, env_extra, timeout=DEADLINE_S):
    # XLA's CPU compiler with its cheapest settings: the run is all compilation
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               **env_extra)
    try:
        return subprocess.run(["bash", os.path.join(ROOT, "bench", "gpu_session.sh"), *args],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"bench/gpu_session.sh still running after {timeout} s:\n"
                    f"{(err.stdout or b'')[-4000:]!s}")


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    """The speech pack of the fake shared data, as bench/gpu_prepare.sh makes it."""
    root = tmp_path_factory.mktemp("device")
    shared = fake_shared_data(str(root / "shared"))
    out = str(root / "pack")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "pack_speech.py"), shared, out],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return root, shared, out


def test_pack_holds_the_training_side_only(pack):
    from vqkeras.data.splits import all_speech_split, speaker_of

    _, shared, out = pack
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    train, validation = all_speech_split(shared)
    assert manifest["files"] == len(train) == len(os.listdir(os.path.join(out, "train")))
    held = {speaker_of(p) for p in validation}
    assert held and not any(name.split("__")[1].split("-")[0] in held for name in manifest["frames"])
    assert manifest["seconds"] > 5
    with open(os.path.join(out, "check.csv")) as f:
        assert f.readline().strip() == "path"


def test_time_boxes_fit_the_session():
    session = bench_module("gpu_session")

    class Args:
        stage_seconds, se1_share, grace = None, 0.5, 30.0

    t0, t1, end = 0.0, 15.0, 540.0 - 50.0
    ft = session.time_box("ft", t1, t1, end, Args, True)
    se1 = session.time_box("se1", t1, t1, end, Args, True)
    se2 = session.time_box("se2", se1[1], t1, end, Args, True)
    assert ft == (end - 30, end) and se2 == (end - 30, end)
    assert t1 < se1[0] < se1[1] < se2[0] and se1[1] <= end


def test_session_trains_every_stage_and_returns_what_fits(pack, tmp_path):
    from vqkeras.api import load_model
    from vqkeras.models import build_from_preset

    root, _, pack_dir = pack
    start_model = str(tmp_path / "tiny_default.keras")
    build_from_preset("vqscore-tiny", ranking_weight=20.0, ranking_copies=1).save(start_model)
    out, work = tmp_path / "out", tmp_path / "work"
    done = run_script(
        ["--pack", pack_dir, "--wav", str(tmp_path / "wav"), "--work", str(work),
         "--seconds", "400", "--reserve", "60", "--grace", "200", "--stage-seconds", "1.5",
         "--workers", "1,0,0",
         "--set", "qe:preset=vqscore-tiny", "--set", "se:preset=enhancer-tiny",
         "--set", f"ft:init_from={start_model}", "--set", "data.batch_size=2",
         "--set", "data.crop_seconds=0.5", "--set", "steps_per_epoch=4",
         "--set", "checkpoint_every=3"],
        {"OUT": str(out), "GPU_WHEELS": str(tmp_path / "no_wheels")})
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    assert "arrival check passed" in log

    # what comes back: at most 8 files of at most 16 MiB, no deeper than the device returns
    files = sorted(os.listdir(out))
    assert len(files) <= 8 and {"session.json", "logs.tar.gz"} <= set(files), files
    assert all(os.path.isfile(out / f) and os.path.getsize(out / f) <= 16 * 2 ** 20 for f in files)
    with open(out / "session.json") as f:
        session = json.load(f)
    stages = session["stages"]
    assert set(stages) == {"ft", "scratch", "se1", "se2"}
    assert all(s["status"] == "finished" and s["steps"] >= 1 for s in stages.values()), stages
    assert stages["ft"]["init_from"] == os.path.abspath(start_model)
    assert stages["se2"]["init_from"] == str(work / "se1" / "final.keras")
    with open(work / "se2" / "summary.json") as f:
        assert json.load(f)["stage1_model"] == str(work / "se1" / "final.keras")

    # every stage's returned checkpoints load
    parts = sorted(glob.glob(str(out / "ckpt.tar.part-*")))
    assert parts
    whole = tmp_path / "ckpt.tar"
    with open(whole, "wb") as joined:
        for part in parts:
            with open(part, "rb") as f:
                joined.write(f.read())
    unpacked = tmp_path / "returned"
    with tarfile.open(whole) as tar:
        tar.extractall(unpacked)
    for name, task in (("ft", "qe"), ("scratch", "qe"), ("se1", "se"), ("se2", "se")):
        models = sorted(glob.glob(str(unpacked / name / "*.keras")))
        assert models, f"no checkpoint of {name} came back"
        for path in models:
            assert load_model(path, task=task).task == task
    assert (unpacked / "se1" / "final.keras").exists()
    assert (unpacked / "se2" / "student_final.keras").exists()
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = tar.getnames()
    assert "logs/se2.log" in names and "ft/history.csv" in names


def test_wrong_manifest_stops_before_training(pack, tmp_path):
    _, _, pack_dir = pack
    bad = tmp_path / "pack"
    subprocess.run(["cp", "-r", pack_dir, str(bad)], check=True)
    with open(bad / "manifest.json") as f:
        manifest = json.load(f)
    name = sorted(manifest["frames"])[0]
    manifest["frames"][name.replace(".opus", "_extra.opus")] = 16000
    manifest["files"] += 1
    manifest["seconds"] += 1.0
    with open(bad / "manifest.json", "w") as f:
        json.dump(manifest, f)
    out, work = tmp_path / "out", tmp_path / "work"
    done = run_script(["--pack", str(bad), "--work", str(work), "--seconds", "60"],
                      {"OUT": str(out), "GPU_WHEELS": str(tmp_path / "no_wheels")}, timeout=120)
    log = done.stdout + done.stderr
    assert done.returncode == 3, log
    assert "ARRIVAL CHECK FAILED" in log and "missing 1" in log
    assert not any((work / s).exists() for s in ("ft", "scratch", "se1", "se2"))
    with open(out / "session.json") as f:
        assert json.load(f)["stages"] == {}
