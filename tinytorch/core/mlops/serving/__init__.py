"""Model serving: an Open Inference Protocol v2 server with micro-batching and Prometheus
metrics (``ModelServer``), its client (``InferenceEndpoint``) and offline scoring
(``BatchInference``)."""

from .batch import BatchInference, BatchReport, iter_chunks
from .batching import MicroBatcher, take_batch
from .client import InferenceEndpoint
from .metrics import Histogram, ServerMetrics
from .protocol import InferenceError, parse_infer_request
from .server import ModelServer

__all__ = [
    "BatchInference", "BatchReport", "Histogram", "InferenceEndpoint", "InferenceError", "MicroBatcher",
    "ModelServer", "ServerMetrics", "iter_chunks", "parse_infer_request", "take_batch",
]
