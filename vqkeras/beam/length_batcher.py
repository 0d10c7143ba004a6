"""Grouping loaded audio into padded batches of similar length."""
import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows


class BatchByLength(beam.DoFn):
    """Buffers loaded items within a bundle and emits them as batches.

    The buffer is flushed every `chunk_items` items and at the end of each
    bundle, through `make_batches(items)`, which returns the batches (for
    scoring, `vqkeras.scoring.length_batches`: the CLI's length-sorted,
    padding-bounded batches). Batches never span bundles, so a worker never
    waits on another. Meant for the global window (batch pipelines).

    Args:
        make_batches: callable from a list of items to an iterable of lists.
        chunk_items: most items held before a flush. Defaults to 256, the
            CLI's chunk of files.
    """

    def __init__(self, make_batches, chunk_items=256):
        self.make_batches = make_batches
        self.chunk_items = chunk_items

    def start_bundle(self):
        self._items = []

    def process(self, item):
        self._items.append(item)
        if len(self._items) >= self.chunk_items:
            items, self._items = self._items, []
            yield from (list(b) for b in self.make_batches(items))

    def finish_bundle(self):
        items, self._items = self._items, []
        for batch in (self.make_batches(items) if items else []):
            yield GlobalWindows.windowed_value(list(batch))
