"""The complete MLOps pipeline (module 06): train, validate, compress, benchmark, register,
deploy, monitor, detect drift, retrain, canary, promote, roll back.

gates       release gates: each figure against its limit, verdict and message
validator   ProductionValidator: measure a candidate, run the gates
canary      the canary decision: roll back, wait or advance on live figures
steps       run steps in order, record them, undo the finished ones on failure
router      TrafficRouter: the service in front of stable and canary servers
deployment  DeploymentManager: blue/green and canary releases with automatic rollback
search      seeded hyperparameter search with the Trainer
learning    CanaryRelease: the continuous learner's promotions go out as canaries
candidate   Candidate: a model with its lineage and gate report, passed between the steps
lineage     the run log kept in the registry
pipeline    MLOpsPipeline: the seed's API, composed from the above
scenario    the end-to-end loop on the digits and its report (python -m tinytorch.core.mlops.pipeline)
"""

from .candidate import Candidate
from .canary import ArmStats, CanaryDecision, CanaryPolicy, canary_decision
from .deployment import DeploymentError, DeploymentEvent, DeploymentManager
from .gates import RELEASE_GATES, GateResult, evaluate_release_gates, normalize_signature
from .lineage import RunLog
from .pipeline import Deployment, MLOpsPipeline, PipelineStepError
from .router import Backend, ServiceUnavailable, TrafficRouter
from .search import SearchResult, hyperparameter_search, sample_configs
from .steps import Step, StepFailure, StepRecord, run_steps, summarize
from .validator import ProductionValidator, ValidationReport, measure_p99_latency_ms

__all__ = [
    "ArmStats", "Backend", "Candidate", "CanaryDecision", "CanaryPolicy", "Deployment", "DeploymentError",
    "DeploymentEvent", "DeploymentManager", "GateResult", "MLOpsPipeline", "PipelineStepError",
    "ProductionValidator", "RELEASE_GATES", "RunLog", "SearchResult", "ServiceUnavailable", "Step",
    "StepFailure", "StepRecord", "TrafficRouter", "ValidationReport", "canary_decision", "evaluate_release_gates",
    "hyperparameter_search", "measure_p99_latency_ms", "normalize_signature", "run_steps",
    "sample_configs", "summarize",
]
