"""What `vqkeras score` and `vqkeras enhance` say on stderr: messages that
--quiet silences, and the closing line, the same for either engine."""
import sys


def say(args, message):
    """Prints `message` to stderr unless the command runs with --quiet."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr, flush=True)


def closing_summary(args, head, clauses):
    """Says `head` and, comma-separated, the text of each (count, text)
    clause whose count is not zero: a command's last line."""
    say(args, ", ".join([head] + [text for count, text in clauses if count]))


def score_summary(args, scored, already, failed):
    """The closing line of `vqkeras score`; returns its exit code."""
    closing_summary(args, f"scored {scored} file(s)",
                    [(already, f"{already} already in {args.output}"),
                     (failed, f"{failed} failed (see the error column)")])
    return 1 if failed else 0


def enhance_summary(args, enhanced, kept, failed, copied=0):
    """The closing line of `vqkeras enhance`; returns its exit code.
    `copied` inputs were written unchanged (too short or silent to
    enhance); they are no failure."""
    closing_summary(args, f"enhanced {enhanced} file(s) into {args.output_dir}",
                    [(copied, f"{copied} copied unchanged (too short or no speech signal)"),
                     (kept, f"{kept} already complete (--resume)"), (failed, f"{failed} failed")])
    return 1 if failed else 0
