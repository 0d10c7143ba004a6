"""One lent-GPU session of training, prepared to fit one device command.

    python bench/gpu_session.py run --out OUT [--pack .gpudata] [--seconds 540]
        [--stages ft,scratch,se1,se2] [--workers 5,5,3] [--set [STAGE:]KEY=VALUE ...]
        [--stage-seconds N]

(bench/gpu_session.sh sets up the machine and calls `run`.) In order:

1. The speech pack (bench/pack_speech.py) is checked against its manifest
   and decoded to WAV; on a mismatch nothing trains and the exit code is 3.
2. Four stages train with JAX, each in its own process:
   ft      recipes/gpu/vqscore_ranking_ft.yaml       (from the bundled default)
   scratch recipes/gpu/vqscore_ranking_scratch.yaml  (from scratch)
   se1     recipes/gpu/enhancer_stage1.yaml
   se2     recipes/gpu/enhancer_stage2.yaml          (from se1's final model)
   ft, scratch and se1 run side by side on the GPU; se2 starts when se1
   ends. Each stage is time-boxed: at its deadline it stops after the step
   in hand and saves its final model; a stage still running `--grace`
   seconds later is killed (its periodic checkpoints stay). ft and scratch
   train until the end of the training window, se1 for `--se1-share` of it
   and se2 for the rest. The window is `--seconds` from the start, less
   `--reserve` for step 3. The 16 cores are shared out as pipeline workers
   (`--workers`, ft,scratch,enhancer), and GPU memory as
   XLA_PYTHON_CLIENT_MEM_FRACTION (0.9 over the processes side by side).
3. Weights-only copies of each stage's final model, then of periodic
   checkpoints spread over the run while they fit `--return-mib`, go into
   OUT as 15 MiB tar parts (`cat ckpt.tar.part-* | tar x`), beside
   session.json (what each stage did) and logs.tar.gz (logs, history.csv,
   summary.json): at most 8 files, none over 16 MiB.

`--set KEY=VALUE` changes a recipe key (dotted for nested keys, the value
read as YAML) in every stage, `--set STAGE:KEY=VALUE` (STAGE a stage name,
`qe` or `se`) in some; with `--stage-seconds N` each stage stops N seconds
after its first step instead (smoke runs: tests/test_device_script.py).
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = {
    "ft": ("qe", "recipes/gpu/vqscore_ranking_ft.yaml"),
    "scratch": ("qe", "recipes/gpu/vqscore_ranking_scratch.yaml"),
    "se1": ("se", "recipes/gpu/enhancer_stage1.yaml"),
    "se2": ("se", "recipes/gpu/enhancer_stage2.yaml"),
}
PART_BYTES = 15 * 2 ** 20
MAX_OUT_FILES = 8
STAGE_JSON = "session_stage.json"


# ---------------------------------------------------------------- one stage

def parse_sets(items, stage):
    """{dotted key: value} of the `--set` items that apply to `stage`."""
    import yaml

    task = STAGES.get(stage, ("", ""))[0]
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected [STAGE:]KEY=VALUE")
        scope, _, key = key.rpartition(":")
        if scope in ("", stage, task):
            out[key] = yaml.safe_load(value)
    return out


def stage_recipe(name, recipe_path, train_dir, workers, sets, init_from=None):
    """The loaded recipe of a stage: training audio, workers, `--set`
    changes and (stage 2) the model to start from; no validation set."""
    from vqkeras.training.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    recipe["data"]["train"] = [os.path.abspath(train_dir)]
    recipe["data"]["split"] = None
    recipe["data"]["workers"] = workers
    recipe["validation"] = None
    for key, value in sets.items():
        *path, last = key.split(".")
        node = recipe
        for part in path:
            node = node[part]
        if last not in node:
            raise SystemExit(f"{name}: --set {key}: no such recipe key")
        node[last] = os.path.abspath(value) if last == "init_from" and value else value
    if init_from:
        recipe["init_from"] = os.path.abspath(init_from)
    return recipe


def train_stage(args):
    """`stage` command: trains one stage until its deadline (in this process)."""
    import keras

    from vqkeras.training.trainer import train

    class TimeBox(keras.callbacks.Callback):
        """Stops `fit` after the step in hand once `deadline` (epoch seconds)
        has passed, or `seconds` after the first step ended."""

        def __init__(self, deadline=None, seconds=None):
            super().__init__()
            self.deadline, self.seconds = deadline, seconds
            self.steps, self.stopped, self.first_step_at = 0, False, None

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if self.first_step_at is None:
                self.first_step_at = time.time()
                if self.seconds is not None:
                    self.deadline = self.first_step_at + self.seconds
            if time.time() >= self.deadline and not self.stopped:
                self.stopped = True
                self.model.stop_training = True
                print(f"\n{args.name}: time box reached after {self.steps} steps", flush=True)

    started = time.time()
    recipe = stage_recipe(args.name, args.recipe, args.train, args.workers,
                          parse_sets(args.set, args.name), args.init_from)
    box = TimeBox(args.deadline, args.box_seconds)
    record = {"stage": args.name, "recipe": os.path.relpath(args.recipe, ROOT),
              "preset": recipe["preset"], "batch_size": recipe["data"]["batch_size"],
              "workers": args.workers, "init_from": recipe["init_from"],
              "backend": keras.backend.backend()}
    summary = train(recipe, output_dir=args.output_dir, verbose=2, extra_callbacks=[box])
    steady = (time.time() - box.first_step_at) / max(1, box.steps - 1) if box.first_step_at else None
    record.update(steps=box.steps, time_boxed=box.stopped, seconds=round(time.time() - started, 1),
                  first_step_after_s=round(box.first_step_at - started, 1) if box.first_step_at else None,
                  seconds_per_step=round(steady, 4) if steady else None,
                  final_model=summary["final_model"], last_epoch=summary.get("last_epoch"),
                  stopped_on_nan=summary.get("stopped_on_nan"))
    with open(os.path.join(args.output_dir, STAGE_JSON), "w") as f:
        json.dump(record, f, indent=1)
    return 1 if summary.get("stopped_on_nan") else 0


# ---------------------------------------------------- checkpoints to return

def stage_models(stage_dir):
    """(final, periodic): the final model of a stage's folder (None when the
    stage was killed first) and its periodic checkpoints, oldest first."""
    finals = [p for p in ("final.keras", "student_final.keras")
              if os.path.exists(os.path.join(stage_dir, p))]
    periodic = sorted(glob.glob(os.path.join(stage_dir, "model_*.keras")) +
                      glob.glob(os.path.join(stage_dir, "student_[0-9]*.keras")))
    return (os.path.join(stage_dir, finals[0]) if finals else None), periodic


def starting_model(stage_dir):
    """The model a later stage starts from: the final one, else the newest
    periodic checkpoint, else `last.keras`; None when there is none."""
    final, periodic = stage_models(stage_dir)
    last = os.path.join(stage_dir, "last.keras")
    return final or (periodic[-1] if periodic else (last if os.path.exists(last) else None))


def spread(paths, count):
    """`count` of `paths` spread over them, the last one included."""
    if len(paths) <= count:
        return list(paths)
    step = len(paths) / count
    return [paths[min(len(paths) - 1, int(round((i + 1) * step)) - 1)] for i in range(count)]


def slim_models(args):
    """`slim` command: weights-only copies of each stage's final model, then
    of up to `--per-stage` periodic checkpoints per stage (spread over the
    run, round-robin over stages), while the copies fit `--budget-mib`."""
    from vqkeras.api import load_model
    from vqkeras.training.callbacks import atomic_save

    budget = args.budget_mib * 2 ** 20
    queue = []
    periodic = {}
    for name in args.stages:
        final, models = stage_models(os.path.join(args.work, name))
        chosen = starting_model(os.path.join(args.work, name))
        if chosen:
            queue.append((name, chosen))
        periodic[name] = [p for p in spread(models, args.per_stage) if p != chosen]
    while any(periodic.values()):
        for name in args.stages:
            if periodic.get(name):
                queue.append((name, periodic[name].pop()))
    used, kept = 0, []
    for name, path in queue:
        model = load_model(path, task=None)
        fresh = model.__class__.from_config(model.get_config())
        fresh.set_weights(model.get_weights())
        os.makedirs(os.path.join(args.dest, name), exist_ok=True)
        target = os.path.join(args.dest, name, os.path.basename(path))
        atomic_save(fresh, target)
        size = os.path.getsize(target)
        if used + size > budget:
            os.remove(target)
            print(f"slim: {name}/{os.path.basename(path)} left out ({size / 2 ** 20:.1f} MiB "
                  f"over the {args.budget_mib:g} MiB budget)")
            continue
        used += size
        kept.append(f"{name}/{os.path.basename(path)}")
        print(f"slim: {name}/{os.path.basename(path)} {size / 2 ** 20:.1f} MiB")
    with open(os.path.join(args.dest, "returned.json"), "w") as f:
        json.dump(kept, f, indent=1)
    return 0


class PartWriter:
    """A file-like object writing `prefix` + aa, ab, ... of at most `size` bytes."""

    def __init__(self, prefix, size=PART_BYTES):
        self.prefix, self.size, self.parts, self.f, self.left = prefix, size, [], None, 0

    def write(self, data):
        view = memoryview(data)
        while view.nbytes:
            if self.left == 0:
                self._next()
            n = min(self.left, view.nbytes)
            self.f.write(view[:n])
            self.left -= n
            view = view[n:]
        return len(data)

    def _next(self):
        if self.f:
            self.f.close()
        k = len(self.parts)
        path = self.prefix + "abcdefghijklmnopqrstuvwxyz"[k // 26] + "abcdefghijklmnopqrstuvwxyz"[k % 26]
        self.parts.append(path)
        self.f, self.left = open(path, "wb"), self.size

    def close(self):
        if self.f:
            self.f.close()


# ------------------------------------------------------------- the session

class Stage:
    """One stage's process, its time box and what became of it."""

    def __init__(self, name, recipe, output_dir, log, workers, fraction):
        self.name, self.recipe, self.output_dir, self.log = name, recipe, output_dir, log
        self.deadline, self.hard_limit, self.workers = None, None, workers
        self.fraction, self.proc, self.started, self.ended = fraction, None, None, None
        self.status, self.init_from = "not started", None

    def start(self, args, train_dir, init_from=None):
        os.makedirs(self.output_dir, exist_ok=True)
        self.init_from = init_from
        cmd = [sys.executable, os.path.abspath(__file__), "stage", self.name, self.recipe,
               self.output_dir, "--train", train_dir, "--workers", str(self.workers)]
        cmd += (["--box-seconds", str(args.stage_seconds)] if args.stage_seconds
                else ["--deadline", f"{self.deadline:.1f}"])
        cmd += [x for s in args.set for x in ("--set", s)]
        if init_from:
            cmd += ["--init-from", init_from]
        env = dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "jax"),
                   XLA_PYTHON_CLIENT_PREALLOCATE="false",
                   OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{self.fraction:.2f}")
        self.started = time.time()
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=ROOT, start_new_session=True)
        self.status = "running"
        stops = (f"{args.stage_seconds:g} s after its first step" if args.stage_seconds
                 else f"at +{self.deadline - T0:.0f} s")
        say(f"{self.name}: started ({os.path.basename(self.recipe)}, {self.workers} workers, "
            f"stops {stops}{', from ' + init_from if init_from else ''})")

    def poll(self):
        if self.status != "running":
            return False
        if self.proc.poll() is not None:
            self.ended = time.time()
            self.status = "finished" if self.proc.returncode == 0 else f"failed ({self.proc.returncode})"
            say(f"{self.name}: {self.status} after {self.ended - self.started:.0f} s")
            return True
        if time.time() >= self.hard_limit:
            kill_group(self.proc)
            self.ended = time.time()
            self.status = "killed at its hard limit"
            say(f"{self.name}: {self.status} (+{self.hard_limit - T0:.0f} s); periodic checkpoints stay")
            return True
        return False


T0 = time.time()


def time_box(name, now, t1, train_end, args, with_se2):
    """(deadline, hard limit) in epoch seconds of a stage starting `now`;
    the training window runs from `t1` to `train_end`."""
    if args.stage_seconds:  # counted from the first step; the hard limit allows for the start
        return None, min(train_end, now + args.stage_seconds + args.grace)
    if name == "se1" and with_se2:
        deadline = t1 + args.se1_share * (train_end - args.grace - t1)
    else:
        deadline = train_end - args.grace
    return deadline, min(train_end, deadline + args.grace)


def say(text):
    print(f"[{time.time() - T0:6.1f} s] {text}", flush=True)


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


def run_session(args):
    global T0
    T0 = time.time()
    out, work = os.path.abspath(args.out), os.path.abspath(args.work)
    logs = os.path.join(work, "logs")
    os.makedirs(out, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    names = [s for s in args.stages.split(",") if s]
    unknown = [s for s in names if s not in STAGES]
    if unknown or ("se2" in names and "se1" not in names):
        raise SystemExit(f"--stages: unknown {unknown} or se2 without se1; known: {', '.join(STAGES)}")
    record = {"stages": {}, "seconds": args.seconds, "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    # 1. what arrived
    wav = os.path.abspath(args.wav or os.path.join(args.pack, "wav"))
    try:
        check = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "pack_speech.py"),
                                "--unpack", args.pack, wav], capture_output=True, text=True,
                               timeout=max(30.0, 0.2 * args.seconds))
    except subprocess.TimeoutExpired:
        check = subprocess.CompletedProcess([], 3, "", "ARRIVAL CHECK FAILED: decoding the pack "
                                            f"took over {max(30.0, 0.2 * args.seconds):.0f} s\n")
    print(check.stdout + check.stderr, end="", flush=True)
    with open(os.path.join(logs, "arrival.txt"), "w") as f:
        f.write(check.stdout + check.stderr)
    if check.returncode != 0:
        record["arrival"] = (check.stderr.strip() or check.stdout.strip()).splitlines()[-1:]
        write_json(os.path.join(out, "session.json"), record)
        say("stopped before training: the speech that arrived does not match its manifest")
        return 3
    record["arrival"] = check.stdout.strip().splitlines()[-1:]

    # 2. training
    t1 = time.time()
    train_end = T0 + args.seconds - args.reserve
    workers = [int(w) for w in args.workers.split(",")] if args.workers else auto_workers()
    beside = len([n for n in names if n != "se2"])
    fraction = args.memory / max(1, beside)
    stages = {name: Stage(name, os.path.join(ROOT, STAGES[name][1]), os.path.join(work, name),
                          os.path.join(logs, f"{name}.log"),
                          workers[{"ft": 0, "scratch": 1}.get(name, 2)], fraction)
              for name in names}

    def launch(stage, init_from=None):
        stage.deadline, stage.hard_limit = time_box(stage.name, time.time(), t1, train_end, args,
                                                    "se2" in names)
        stage.start(args, wav, init_from)

    try:
        for name in names:
            if name != "se2":
                launch(stages[name])
        while any(s.status in ("running", "not started") for s in stages.values()):
            for stage in stages.values():
                if stage.poll() and stage.name == "se1" and "se2" in stages:
                    start_from = starting_model(stage.output_dir)
                    left = train_end - args.grace - time.time()
                    if start_from is None or (left < args.min_stage and not args.stage_seconds):
                        why = "se1 left no model" if start_from is None else f"only {left:.0f} s left"
                        stages["se2"].status = f"skipped: {why}"
                        say(f"se2: skipped, {why}")
                    else:
                        launch(stages["se2"], start_from)
            if time.time() > train_end + 5:
                for stage in stages.values():
                    if stage.status == "running":
                        stage.hard_limit = 0
                        stage.poll()
            time.sleep(0.5)
    finally:
        for stage in stages.values():
            if stage.proc is not None and stage.proc.poll() is None:
                kill_group(stage.proc)
    for name, stage in stages.items():
        info = read_json(os.path.join(stage.output_dir, STAGE_JSON)) or {}
        info.update(status=stage.status, init_from=stage.init_from or info.get("init_from"),
                    wall_s=round((stage.ended or time.time()) - (stage.started or time.time()), 1))
        record["stages"][name] = info

    # 3. what comes back
    slim = os.path.join(work, "returned")
    shutil.rmtree(slim, ignore_errors=True)
    left = T0 + args.seconds - time.time()
    try:
        subprocess.run([sys.executable, os.path.abspath(__file__), "slim", work, slim,
                        "--stages", *names, "--budget-mib", str(args.return_mib)],
                       env=dict(os.environ, JAX_PLATFORMS="cpu"), cwd=ROOT,
                       timeout=max(20, left - 15), check=False,
                       stdout=open(os.path.join(logs, "slim.log"), "w"), stderr=subprocess.STDOUT)
    except subprocess.TimeoutExpired:
        say("slimming ran out of time; the copies made so far come back")
    record["returned"] = read_json(os.path.join(slim, "returned.json")) or sorted(
        os.path.relpath(p, slim) for p in glob.glob(os.path.join(slim, "*", "*.keras"))
        if not p.endswith(".tmp.keras"))
    for path in glob.glob(os.path.join(out, "ckpt.tar.part-*")):
        os.remove(path)
    writer = PartWriter(os.path.join(out, "ckpt.tar.part-"))
    with tarfile.open(fileobj=writer, mode="w|") as tar:
        for rel in record["returned"]:
            tar.add(os.path.join(slim, rel), arcname=rel)
    writer.close()
    with tarfile.open(os.path.join(out, "logs.tar.gz"), "w:gz") as tar:
        tar.add(logs, arcname="logs")
        for name in names:
            for extra in ("history.csv", "summary.json", STAGE_JSON):
                path = os.path.join(work, name, extra)
                if os.path.exists(path):
                    tar.add(path, arcname=f"{name}/{extra}")
    write_json(os.path.join(out, "session.json"), record)
    files = sorted(os.listdir(out))
    say(f"{len(files)} files in {out}: {', '.join(files)}")
    print_table(record)
    if len(files) > MAX_OUT_FILES or any(os.path.getsize(os.path.join(out, f)) > 16 * 2 ** 20
                                         for f in files):
        say(f"WARNING: more than {MAX_OUT_FILES} files or one over 16 MiB in {out}: not all come back")
        return 1
    return 0 if all(s["status"] == "finished" for s in record["stages"].values()) else 1


def auto_workers():
    """Pipeline workers for ft, scratch and the enhancer stages: the cores
    left after one per training process, a fifth of them to the enhancer
    (plain crops are cheap), the rest shared by the two ranking stages."""
    spare = max(3, (os.cpu_count() or 4) - 3)
    enhancer = max(1, round(spare / 5))
    return [(spare - enhancer) // 2, spare - enhancer - (spare - enhancer) // 2, enhancer]


def print_table(record):
    print("stage    status                      steps  s/step  init_from")
    for name, info in record["stages"].items():
        per_step = info.get("seconds_per_step")
        print(f"{name:8s} {info['status'][:27]:27s} {info.get('steps', '-')!s:>6} "
              f"{per_step if per_step is not None else '-'!s:>7}  {info.get('init_from') or '-'}")
    print(f"returned: {', '.join(record['returned']) or 'nothing'}", flush=True)


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="the whole session")
    r.add_argument("--out", required=True, help="what comes back ($OUT)")
    r.add_argument("--pack", default=os.path.join(ROOT, ".gpudata"))
    r.add_argument("--wav", help="where the pack is decoded (default PACK/wav)")
    r.add_argument("--work", default=os.path.join(ROOT, "runs", "gpu_session"))
    r.add_argument("--seconds", type=float, default=540.0, help="the whole session")
    r.add_argument("--reserve", type=float, default=50.0, help="seconds kept for step 3")
    r.add_argument("--grace", type=float, default=30.0,
                   help="seconds a stage gets past its deadline before it is killed")
    r.add_argument("--se1-share", type=float, default=0.5)
    r.add_argument("--min-stage", type=float, default=60.0,
                   help="se2 is skipped when less than this is left of the window")
    r.add_argument("--stages", default=",".join(STAGES))
    r.add_argument("--workers", help="ft,scratch,enhancer pipeline workers (default: by cores)")
    r.add_argument("--memory", type=float, default=0.9,
                   help="GPU memory fraction shared by the processes side by side")
    r.add_argument("--return-mib", type=float, default=56.0)
    r.add_argument("--stage-seconds", type=float,
                   help="each stage stops this long after its first step (smoke runs)")
    r.add_argument("--set", action="append", default=[], metavar="[STAGE:]KEY=VALUE")
    s = sub.add_parser("stage", help="one stage (started by run)")
    s.add_argument("name")
    s.add_argument("recipe")
    s.add_argument("output_dir")
    s.add_argument("--train", required=True)
    box = s.add_mutually_exclusive_group(required=True)
    box.add_argument("--deadline", type=float, help="stop after this time (epoch seconds)")
    box.add_argument("--box-seconds", type=float, help="stop this long after the first step")
    s.add_argument("--workers", type=int, default=0)
    s.add_argument("--init-from")
    s.add_argument("--set", action="append", default=[])
    m = sub.add_parser("slim", help="weights-only copies (started by run)")
    m.add_argument("work")
    m.add_argument("dest")
    m.add_argument("--stages", nargs="+", required=True)
    m.add_argument("--budget-mib", type=float, default=56.0)
    m.add_argument("--per-stage", type=int, default=2)
    args = p.parse_args()
    sys.path.insert(0, ROOT)
    return {"run": run_session, "stage": train_stage, "slim": slim_models}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
