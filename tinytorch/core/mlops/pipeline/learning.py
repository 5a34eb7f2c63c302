"""The continuous learner's release inside the pipeline: blessed challengers go out as canaries.

The library's ``ContinuousLearner`` (module 05) decides: it validates feedback, fires the
retrain triggers, trains the challenger and blesses it with ``challenger_passes_gate``, and
judges a promoted champion on probation. In module 06 the learner never changes what serves
itself: ``CanaryRelease`` is its release (see ``continuous/release.py``). A blessing only makes
the challenger *pending*: the pipeline compresses it and releases it as a canary, and only the
canary analysis puts it live (``MLOpsPipeline.evaluate_canary`` then tells the learner,
``went_live``). A probation rollback switches the serving version back, blue/green.

The learner registers its challengers under its own model name (``<name>-continuous``), so each
registry alias has one owner: the ``DeploymentManager`` moves the served model's ``champion``.
"""


class CanaryRelease:
    """Carries out the learner's decisions through a ``DeploymentManager``.

    ``serving`` maps each learner version that went live to the pipeline's registry version that
    served it, recorded when it went live (what a probation rollback switches back to).
    """

    def __init__(self, manager):
        self.manager = manager
        self.serving = {}

    def deployed(self, version):
        """The learner's first champion is what serves now."""
        self.serving[str(version)] = self.manager.stable_version

    def promote(self, version):
        """Not live yet: the pipeline releases the challenger as a canary, which decides."""
        return False

    def went_live(self, version, serving_version):
        self.serving[str(version)] = serving_version

    def roll_back(self, demoted, restored):
        """Pull any running canary, then switch traffic back to the version that served
        ``restored`` (blue/green, smoke-tested like any release)."""
        if self.manager.canary_version is not None:
            self.manager.rollback_canary(f"the continuous learner rolled back version {demoted}")
        self.manager.deploy_blue_green(self.serving[str(restored)])
        return str(restored)
