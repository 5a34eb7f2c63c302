"""DeploymentManager: blue/green and canary releases of registry versions behind real HTTP
servers, with automatic rollback on error rate, latency or accuracy regression.

Every release is a sequence of steps run by ``run_steps``: if any step fails, the finished ones
are undone in reverse order, so the version that was serving keeps serving. Registry aliases
follow the traffic: ``champion`` is what stable serves, ``canary`` what the canary serves.
"""

import time
from dataclasses import dataclass

import numpy as np

from tinytorch.core.mlops.experiments import CanaryRollout

from .canary import CanaryPolicy, canary_decision
from .router import Backend, TrafficRouter
from .steps import Step, StepFailure, run_steps

CHAMPION, CANARY = "champion", "canary"


class DeploymentError(StepFailure):
    """A release that did not go out; ``records`` show which step failed and what was undone."""


@dataclass(frozen=True)
class DeploymentEvent:
    """One thing the manager did: ``action`` (deploy, canary_start, canary_advance, promote,
    rollback, ...), the version it concerned, and why."""

    time: float
    action: str
    version: str
    detail: str = ""


def failed_step_message(records):
    """'step <name> failed: <error>' for the first failed record (for errors and logs)."""
    failed = next(r for r in records if r.status == "failed")
    return f"step {failed.name!r} failed: {failed.error}"


class DeploymentManager:
    """Releases versions of one registered model to a TrafficRouter.

    >>> manager = DeploymentManager(registry, name="digits", smoke_rows=X_val[:16])  # doctest: +SKIP
    >>> manager.deploy_blue_green("1")       # first release, or a blue/green switch   # doctest: +SKIP
    >>> manager.start_canary("2")            # 10 % of units, then 50 %, then 100 %    # doctest: +SKIP
    >>> manager.evaluate_canary()            # after some traffic: advance, wait or roll back

    ``smoke_rows``: inputs sent over HTTP to a new server before it gets traffic; its answers
    must equal the registered model's own predictions (catches a server that loads the wrong
    bytes or mangles inputs). ``server_options`` are passed to every ``ModelServer``. ``timer``
    times client requests (see ``TrafficRouter``).
    """

    def __init__(self, registry, name="model", policy=CanaryPolicy(), canary_steps=(0.1, 0.5),
                 smoke_rows=None, monitor=None, host="127.0.0.1", server_options=None, seed="canary",
                 timer=time.perf_counter):
        self.registry = registry
        self.name = name
        self.policy = policy
        self.canary_steps = tuple(canary_steps)
        self.smoke_rows = None if smoke_rows is None else np.asarray(smoke_rows, dtype=np.float32)
        self.host = host
        self.server_options = dict(server_options or {})
        self.seed = seed
        self.router = TrafficRouter(monitor, timer=timer)
        self.previous = None        # the blue backend kept warm after a blue/green switch
        self.baseline = None        # blue's figures just before the switch
        self.events = []

    # -- reading -------------------------------------------------------------------------------
    @property
    def stable_version(self):
        return None if self.router.stable is None else self.router.stable.version

    @property
    def canary_version(self):
        return None if self.router.canary is None else self.router.canary.version

    @property
    def canary_share(self):
        rollout = self.router.rollout
        return 0.0 if rollout is None else rollout.percentage

    def _event(self, action, version, detail=""):
        self.events.append(DeploymentEvent(time.time(), action, str(version), detail))

    # -- steps shared by the release kinds -----------------------------------------------------
    def _start_backend(self, version):
        """Load ``version`` from the registry, serve it on a free port, check it over HTTP."""
        from tinytorch.core.mlops.serving import ModelServer

        record = self.registry.get_version(version, name=self.name)
        model = self.registry.load_model(record.version, name=self.name)
        server = ModelServer(model, name=self.name, version=record.version, host=self.host, port=0,
                             **self.server_options).start()
        backend = Backend(server, record.version)
        try:
            self._smoke_test(backend, model)
        except Exception:
            server.stop()
            raise
        return backend

    def _smoke_test(self, backend, model):
        endpoint = backend.endpoint
        if not (endpoint.is_live() and endpoint.is_ready()):
            raise RuntimeError(f"version {backend.version} at {backend.url} is not live and ready")
        rows = self.smoke_rows if self.smoke_rows is not None else np.zeros((4, *model.input_shape), np.float32)
        served, local = endpoint.predict(rows), model.predict(rows)
        if not np.array_equal(served, local):
            raise RuntimeError(f"version {backend.version} answers {np.mean(served != local):.0%} of the "
                               "smoke rows differently over HTTP than the registered model does")

    def _release(self, kind, version, steps):
        records = run_steps(steps, {"version": str(version)})
        if any(r.status == "failed" for r in records):
            message = f"{kind} of version {version} did not go out: {failed_step_message(records)}"
            self._event(f"{kind}_failed", version, message)
            raise DeploymentError(message + f"; still serving version {self.stable_version}", records)
        return records

    # -- blue/green ----------------------------------------------------------------------------
    def deploy_blue_green(self, version):
        """Start ``version`` (green) next to the serving one (blue), smoke-test it, switch all
        traffic at once and keep blue warm for ``check_release``/``finish_release``. The first
        release of a manager is this with no blue. Returns the step records; raises
        DeploymentError (blue still serving) if a step fails."""
        if self.router.canary is not None:
            raise DeploymentError(f"a canary of version {self.canary_version} is running: promote or "
                                  "roll it back before a blue/green release")
        self.finish_release()
        blue_stats = self.router.arm_stats()[0]
        state = {}

        def start(ctx):
            state["green"] = self._start_backend(ctx["version"])
            return {"url": state["green"].url}

        def switch(ctx):
            state["blue"] = self.router.set_stable(state["green"])

        def move_alias(ctx):
            self.registry.set_alias(CHAMPION, ctx["version"], name=self.name)

        steps = [
            Step("start_green", start, lambda ctx: state["green"].stop(), inputs=("version",)),
            Step("switch_traffic", switch, lambda ctx: self.router.set_stable(state["blue"])),
            Step("set_champion_alias", move_alias, lambda ctx: self.registry.rollback(CHAMPION, name=self.name)),
        ]
        records = self._release("blue_green", version, steps)
        self.previous, self.baseline = state["blue"], blue_stats
        self._event("deploy", version, "blue/green" + (f", blue {self.previous.version} kept warm"
                                                        if self.previous else ", first release"))
        return records

    def check_release(self):
        """Compare green's live figures since the switch with blue's just before it (the canary
        policy); on a regression switch back to blue, move the alias back and return the
        decision. Call after some traffic; "wait" until there is enough."""
        if self.previous is None or self.baseline is None:
            raise RuntimeError("no blue/green release to check (or blue had no traffic to compare with)")
        decision = canary_decision(self.baseline, self.router.arm_stats()[0], self.policy)
        if decision.action == "rollback":
            green = self.router.set_stable(self.previous)
            self.registry.rollback(CHAMPION, name=self.name)
            self._event("rollback", green.version, "; ".join(decision.reasons))
            green.stop()
            self.previous = self.baseline = None
        return decision

    def finish_release(self):
        """Retire blue (drain, stop) once green is trusted."""
        if self.previous is not None:
            self.previous.stop()
            self.previous = self.baseline = None

    # -- canary --------------------------------------------------------------------------------
    def start_canary(self, version):
        """Serve ``version`` to the first canary step's share of units; the rest stay on stable."""
        if self.router.stable is None:
            raise DeploymentError("nothing is serving yet: deploy_blue_green() a first version")
        if self.router.canary is not None:
            raise DeploymentError(f"a canary of version {self.canary_version} is already running")
        self.finish_release()
        state = {}

        def start(ctx):
            state["canary"] = self._start_backend(ctx["version"])
            return {"url": state["canary"].url}

        def route(ctx):
            rollout = CanaryRollout(self.router.stable, state["canary"], steps=self.canary_steps,
                                    seed=f"{self.seed}-{ctx['version']}")
            self.router.start_canary(state["canary"], rollout)

        def alias(ctx):
            self.registry.set_alias(CANARY, ctx["version"], name=self.name)

        steps = [Step("start_canary", start, lambda ctx: state["canary"].stop(), inputs=("version",)),
                 Step("route_canary_share", route, lambda ctx: self.router.end_canary(promote=False)),
                 Step("set_canary_alias", alias)]
        records = self._release("canary", version, steps)
        self._event("canary_start", version, f"{self.canary_share:.0%} of units")
        return records

    def evaluate_canary(self):
        """Decide on the live figures (``canary_decision``) and act: roll back, wait, advance to
        the next share, or promote after the last one. Returns the CanaryDecision."""
        if self.router.canary is None:
            raise RuntimeError("no canary is running; start_canary(version) first")
        decision = canary_decision(*self.router.arm_stats(), self.policy)
        version = self.canary_version
        if decision.action == "rollback":
            self.rollback_canary("; ".join(decision.reasons))
        elif decision.action == "advance":
            rollout = self.router.rollout
            if rollout.stage == len(rollout.steps) - 1:
                self.promote_canary()
            else:
                share = rollout.advance()
                self.router.start_canary(self.router.canary, rollout)  # fresh evidence per step
                self._event("canary_advance", version, f"{share:.0%} of units")
        return decision

    def promote_canary(self):
        """The canary becomes stable: move ``champion``, drain and stop the old stable."""
        version = self.canary_version
        retired = self.router.end_canary(promote=True)
        self.registry.set_alias(CHAMPION, version, name=self.name)
        self._event("promote", version, f"replaces {retired.version}")
        retired.stop()

    def rollback_canary(self, reason="manual"):
        """All traffic back to stable at once; drain and stop the canary server."""
        version = self.canary_version
        rollout = self.router.rollout
        retired = self.router.end_canary(promote=False)
        rollout.rollback(reason)
        self._event("rollback", version, reason)
        retired.stop()

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self):
        """Stop every server this manager started."""
        for backend in {id(b): b for b in (self.router.canary, self.router.stable, self.previous)
                        if b is not None}.values():
            backend.server.stop()
        self.router.set_stable(None)
        self.previous = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
