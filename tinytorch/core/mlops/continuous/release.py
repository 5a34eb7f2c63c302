"""How a continuous learner's decisions go live: the learner decides, a release carries it out.

The learner decides that a blessed challenger should replace the champion, and that a champion
on probation must be rolled back; a release object is the one place that changes what serves.
Module 05's ``AliasRelease`` moves the registry's ``champion`` alias (whatever serves
``models:/name@champion`` follows it, as in MLflow). Module 06's pipeline passes its own release,
which puts a blessed challenger out as a canary and lets the canary analysis decide when it goes
live (see ``tinytorch.core.mlops.pipeline``).

A release implements three methods:

- ``deployed(version)``: the learner's first champion was registered as ``version``;
- ``promote(version)``: the learner blessed ``version``; return True if it serves now, False if
  going live is decided later (the release then calls ``learner.went_live(version)``);
- ``roll_back(demoted, restored)``: put ``restored`` back in place of ``demoted``; return the
  version serving afterwards.
"""

CHAMPION = "champion"


class AliasRelease:
    """Going live is moving the registry's ``champion`` alias of model ``name``; rolling back is
    the registry's own alias rollback (its history records both)."""

    def __init__(self, registry, name):
        self.registry, self.name = registry, name

    def deployed(self, version):
        self.registry.set_alias(CHAMPION, version, name=self.name)

    def promote(self, version):
        self.registry.set_alias(CHAMPION, version, name=self.name)
        return True

    def roll_back(self, demoted, restored):
        return self.registry.rollback(CHAMPION, name=self.name).version
