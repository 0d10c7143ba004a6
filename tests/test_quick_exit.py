"""The CLI freezes the heap at exit (`vqkeras.quick_exit`), so the
interpreter's last garbage collection over a loaded backend (about 1 s)
is skipped."""
import os
import subprocess
import sys


def test_cli_process_freezes_its_heap_at_exit_once():
    code = "\n".join([
        "import atexit, gc",
        "atexit.register(lambda: print('FROZEN', gc.get_freeze_count() > 0, flush=True))",
        "from vqkeras.cli.main import main",
        "from vqkeras.quick_exit import skip_final_collection",
        "for _ in range(2):",
        "    try:",
        "        main(['--version'])",
        "    except SystemExit:",
        "        pass",
        "import vqkeras.quick_exit as q",
        "print('REGISTERED', len(q._REGISTERED))",
        "skip_final_collection()",
        "print('REGISTERED', len(q._REGISTERED))",
    ])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ), timeout=120)
    lines = [line for line in out.stdout.splitlines() if line.startswith(("FROZEN", "REGISTERED"))]
    assert lines == ["REGISTERED 1", "REGISTERED 1", "FROZEN True"], out.stdout + out.stderr[-2000:]
