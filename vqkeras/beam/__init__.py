"""Scoring and enhancing a corpus on Apache Beam (`pip install "vqkeras[beam]"`).

The same rows as `vqkeras score`, and the same enhanced files as
`vqkeras enhance`, on any Beam runner: the local DirectRunner, Flink, Spark
or Dataflow. Audio is read with the local engine's reader, batched by length
as the local engine batches it, scored and enhanced by the same functions
(`vqkeras.scoring`, `vqkeras.enhancing`) inside `RunInference`, with a model
handler that loads one model per worker (a vqkeras `.keras` file on any
Keras backend, or an exported SavedModel through plain TensorFlow). A file
that cannot be used becomes an error row; it never fails the pipeline.

Building blocks (each in its own module):
- `ScoreAudio`: PCollection of audio paths -> PCollection of result rows.
- `EnhanceAudio`: PCollection of (input, output) paths -> PCollection of
  `vqkeras.enhanced_output.result` dicts after writing each enhanced file.
- `VQKerasModelHandler`: the `RunInference` model handler.
- `score_rows`, `enhance_files`: whole pipelines as `vqkeras score|enhance
  --engine beam` runs them (`vqkeras.cli.beam_engine`), returning results
  in input order.

Nothing here imports the CLI: what both engines share (expanding inputs,
output names, the output file rules, the score row, the enhancement loop)
lives in modules below both.

Importing this package imports apache_beam; nothing else in vqkeras does.
"""
import logging


def _not_apitools_notice(record):
    # Beam without its GCP extra logs this at import; it concerns BigQuery only.
    return "apitools not found" not in record.getMessage()


logging.getLogger().addFilter(_not_apitools_notice)
try:
    import apache_beam  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError('vqkeras.beam needs Apache Beam: pip install "vqkeras[beam]"') from err
finally:
    logging.getLogger().removeFilter(_not_apitools_notice)

from vqkeras.beam.inference_import import import_inference_base

import_inference_base()  # before anything imports RunInference: no torch on TF/JAX

from vqkeras.beam.engine import enhance_files, score_rows
from vqkeras.beam.enhance_transform import EnhanceAudio
from vqkeras.beam.model_handler import VQKerasModelHandler
from vqkeras.beam.paths import expand_paths, plan_enhanced_paths
from vqkeras.beam.pipeline_options import pipeline_options
from vqkeras.beam.score_transform import ScoreAudio

__all__ = ["ScoreAudio", "EnhanceAudio", "VQKerasModelHandler", "score_rows", "enhance_files",
           "expand_paths", "plan_enhanced_paths", "pipeline_options"]
