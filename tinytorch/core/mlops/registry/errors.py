"""The registry's errors: each says what is wrong, where, and what to do about it."""


class RegistryError(ValueError):
    """A request the registry cannot carry out; the message says why and what to do."""


class VersionExistsError(RegistryError):
    """Registering a version that already exists: versions are immutable."""


class VersionNotFoundError(RegistryError, LookupError):
    """A version, alias or model that the registry does not hold."""


class DamagedRecordError(RegistryError):
    """A version record on disk that cannot be trusted: unreadable, malformed, or not what the
    registry wrote. Only that version is affected; the message names the file, the version and
    the problem, and how to find everything else that is damaged."""

    def __init__(self, path, name, version, problem):
        super().__init__(
            f"{path}: version {version!r} of model {name!r}: {problem}. Other versions are "
            f"unaffected; `python -m tinytorch.core.mlops.registry.recover {path.parents[3]}` "
            "lists every damaged file and what it would quarantine"
        )
        self.path, self.name, self.version, self.problem = path, name, version, problem


class TamperedRecordError(DamagedRecordError):
    """A well-formed record that differs from the one sealed in the model's ledger when it was
    registered: it was edited (or replaced) after registration."""
