"""Progress of long jobs on stderr: a bar on a terminal, plain lines in a log."""
import os
import sys
import time

# Seconds between progress lines when stderr is not a terminal (a log file,
# a pipe, a batch system); VQKERAS_PROGRESS_SECONDS changes it.
LOG_EVERY_S = 30.0


class Progress:
    """Prints `label [bar] done/total files  rate  speed  eta` on one line of
    stderr.

    The clock starts at the first finished item, so model loading and
    compilation do not count; the rate, real-time speed and eta appear from
    the second finished item on (one item says nothing about the rate).
    Messages printed with `note` go on their own line, above the bar.

    When stderr is not a terminal (redirected to a log), there is no bar:
    one plain line `label: done/total files ...` is printed every
    `log_every_s` seconds and at the end, so a long job in a log does not
    look hung.

    Args:
        total: int. Number of items.
        label: str. Shown before the counts.
        unit: str. Unit for the rate. Defaults to "files".
        enabled: bool or None. None means "a bar on a terminal, periodic
            lines otherwise"; False prints nothing. Defaults to None.
        log_every_s: float or None. Seconds between lines without a
            terminal. Defaults to `VQKERAS_PROGRESS_SECONDS` or 30.
    """

    def __init__(self, total, label="", unit="files", enabled=None, log_every_s=None):
        self.total = total
        self.label = label
        self.unit = unit
        self.lines = enabled is None and not sys.stderr.isatty()
        self.enabled = (not self.lines) if enabled is None else enabled
        if log_every_s is None:
            log_every_s = float(os.environ.get("VQKERAS_PROGRESS_SECONDS", LOG_EVERY_S))
        self.log_every_s = log_every_s
        self._last_line = time.time()
        self.done = 0
        self.extra = 0.0
        self._first = None  # (time, done, audio seconds) at the first finished item
        self._last = 0.0
        self._shown = False

    def _line(self, now):
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        if self.lines:
            text = f"{self.label}: {self.done}/{self.total} {self.unit}"
        else:
            text = f"{self.label} [{bar}] {self.done}/{self.total} {self.unit}"
        if self._first is not None and self.done > self._first[1] and now > self._first[0]:
            elapsed = now - self._first[0]
            rate = (self.done - self._first[1]) / elapsed
            text += f" {rate:5.1f}/s"
            audio = self.extra - self._first[2]
            if audio > 0:
                speed = audio / elapsed
                text += f" {speed:6.0f}x real time" if speed >= 10 else f" {speed:5.1f}x real time"
            text += f" eta {(self.total - self.done) / rate:5.0f}s"
        return text

    def _draw(self, now):
        sys.stderr.write("\r\033[K" + self._line(now) + " ")
        sys.stderr.flush()
        self._shown = True

    def update(self, n=1, audio_seconds=0.0):
        now = time.time()
        if self._first is None:
            self._first = (now, self.done + n, self.extra + audio_seconds)
        self.done += n
        self.extra += audio_seconds
        if self.lines:
            if now - self._last_line >= self.log_every_s or self.done == self.total:
                self._last_line = now
                print(" ".join(self._line(now).split()), file=sys.stderr, flush=True)
            return
        if self.enabled and (now - self._last > 0.2 or self.done == self.total):
            self._last = now
            self._draw(now)

    def note(self, message):
        """Prints `message` on its own line of stderr, above the bar."""
        if self.enabled and self._shown:
            sys.stderr.write("\r\033[K")
        print(message, file=sys.stderr)
        if self.enabled and self._shown:
            self._draw(time.time())

    def close(self):
        if self.enabled and self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
