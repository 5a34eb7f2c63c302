"""Aliases (champion, challenger, ...) with an append-only history."""

import math
import time

from .storage import (
    InvalidNameError, append_json_line, locked, numbered_json_lines, read_json_lines, validate_name,
)

ACTIONS = ("set", "rollback", "remove_version")


class AliasHistory:
    """Mutable alias -> version pointers of one model, kept as an append-only event log.

    MLflow's aliases are plain pointers: once `champion` moves, nobody can say what it pointed at
    before, so "roll back" and "what was serving on March 3rd?" have no answer (MLflow issue
    #2169). Here every change is an event appended to a JSON-lines file and never rewritten:

        {"alias": "champion", "action": "set", "version": "3", "at": 1700000000.0}

    Actions: "set" (point at a version), "rollback" (return to the target before the current
    one), "remove_version" (the version was deleted: the alias stops pointing at it, and it can
    never be rolled back to). The state is computed by replaying the log, so the log is the single
    source of truth. Changes run under an exclusive lock on the file (`locked`), so concurrent
    processes append whole events in a consistent order.
    """

    def __init__(self, path):
        self.path = path

    def history(self, alias=None) -> list:
        """Every recorded event (optionally of one alias), oldest first."""
        return [e for e in read_json_lines(self.path) if alias in (None, e.get("alias"))]

    def current(self, alias):
        """The version `alias` points at now, or None."""
        return self.at(alias, float("inf"))

    def at(self, alias, when):
        """The version `alias` pointed at at time `when` (seconds since the epoch), or None: the
        replay of its events stamped at or before `when` (an event at exactly `when` counts)."""
        stack = self.targets(e for e in self.history(alias) if e["at"] <= when)
        return stack[-1] if stack else None

    def aliases(self) -> dict:
        """{alias: version} for every alias that points at a version now."""
        names = dict.fromkeys(e["alias"] for e in self.history())
        return {a: v for a in names if (v := self.current(a)) is not None}

    def set(self, alias, version, when=None) -> None:
        """Point `alias` at `version` (`when` defaults to now): record a "set" event while
        holding `locked(self.path)`, so a concurrent process waits for it."""
        with locked(self.path):
            self._record(alias, "set", version, when)

    def rollback(self, alias, when=None):
        """Point `alias` back at its previous target and return that version.

        While holding `locked(self.path)`, replay the alias's events and record a "rollback"
        event whose version is the target it returns to. Read the targets inside the lock: two
        processes rolling back at once must step back two targets, never both from the same one.
        Raises LookupError (and records nothing) when the alias has no earlier target.
        """
        with locked(self.path):
            stack = self.targets(self.history(alias))
            if len(stack) < 2:
                raise LookupError(
                    f"alias {alias!r} has no earlier target to roll back to "
                    f"(its targets so far: {stack or 'none'})"
                )
            self._record(alias, "rollback", stack[-2], when)
            return stack[-2]

    def remove_version(self, version, when=None) -> list:
        """Record that `version` was deleted; return the aliases that pointed at it."""
        with locked(self.path):
            pointing = [a for a, v in self.aliases().items() if v == version]
            for alias in dict.fromkeys(e["alias"] for e in self.history() if e["version"] == version):
                self._record(alias, "remove_version", version, when)
            return pointing

    def _record(self, alias, action, version, when):
        at = time.time() if when is None else float(when)
        append_json_line(self.path, {"alias": alias, "action": action, "version": version, "at": at})

    @staticmethod
    def targets(events) -> list:
        """Replay events into the alias's stack of targets; the last item is the current one."""
        stack = []
        for e in events:
            if e["action"] == "set" and (not stack or stack[-1] != e["version"]):
                stack.append(e["version"])
            elif e["action"] == "rollback":
                stack.pop()
            elif e["action"] == "remove_version":
                was_current = bool(stack) and stack[-1] == e["version"]
                kept = [v for v in stack if v != e["version"]]
                stack = [v for i, v in enumerate(kept) if i == 0 or kept[i - 1] != v]
                if was_current and stack and stack[-1] is not None:
                    stack.append(None)
        return stack


class CheckedAliasHistory(AliasHistory):
    """An AliasHistory that does not trust its log (the one `ModelRegistry` uses).

    The log is read only as a bounded regular file (never a FIFO, a device or a symlink), an
    event that is not well-formed (see `event_problem`) is left out so that it costs only its
    own line, and a time that is not a finite number is refused before it is written.
    """

    def history(self, alias=None) -> list:
        return [e for _, e in numbered_json_lines(self.path)
                if event_problem(e) is None and alias in (None, e["alias"])]

    def _record(self, alias, action, version, when):
        if when is not None and not math.isfinite(float(when)):
            raise ValueError(f"alias time {when!r} is not a finite number of epoch seconds")
        super()._record(alias, action, version, when)


def event_problem(event) -> str | None:
    """What is wrong with one alias-log event, or None if it is well-formed."""
    if not isinstance(event, dict) or set(event) != {"alias", "action", "version", "at"}:
        return "is not an event with exactly the keys alias, action, version and at"
    if event["action"] not in ACTIONS:
        return f"has unknown action {event['action']!r}; actions are {', '.join(ACTIONS)}"
    at = event["at"]
    if not (isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at)):
        return f"has time {at!r}, which is not a finite number of epoch seconds"
    try:
        validate_name(event["alias"], "alias")
        if event["version"] is not None or event["action"] != "rollback":
            validate_name(event["version"], "version")
    except InvalidNameError as exc:
        return str(exc)
    return None


def alias_log_problems(path) -> list:
    """[(line number, problem)] for every line of the alias log at `path` that `history`
    leaves out."""
    problems = []
    for number, event in numbered_json_lines(path):
        problem = "is not valid JSON (torn by a crash, or edited)" if event is None else \
            event_problem(event)
        if problem:
            problems.append((number, problem))
    return problems
