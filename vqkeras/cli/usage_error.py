"""`UsageError`: bad command-line usage, which `vqkeras` reports in one
line and exits with code 2. Every command raises it; the dispatcher
(`vqkeras.cli.main`) catches it."""


class UsageError(Exception):
    """Bad command-line usage: exit code 2."""
