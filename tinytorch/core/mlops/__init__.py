"""tinytorch.core.mlops: the production ML system of the capstone.

Names are imported lazily, so that importing the registry does not start the serving stack.
"""

import importlib

_EXPORTS = {
    # module 01: registry
    "ModelRegistry": "registry",
    "ModelVersion": "registry",
    # module 02: serving
    "ModelServer": "serving",
    "InferenceEndpoint": "serving",
    "BatchInference": "serving",
    # module 03: monitoring and drift
    "ModelMonitor": "monitoring",
    "PerformanceTracker": "monitoring",
    "DriftDetector": "drift",
    # module 04: A/B testing
    "ABTestManager": "experiments",
    "ExperimentTracker": "experiments",
    "ModelComparator": "experiments",
    # module 05: continuous learning
    "ContinuousLearner": "continuous",
    "AutoRetrainer": "continuous",
    "DataPipeline": "continuous",
    # module 06: the pipeline
    "MLOpsPipeline": "pipeline",
    "DeploymentManager": "pipeline",
    "ProductionValidator": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tinytorch.core.mlops' has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    return getattr(module, name)


def __dir__():
    return __all__
