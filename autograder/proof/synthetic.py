"""The self-check's synthetic cases: ``autograder/selfcheck_cases/*.toml`` (format in its README.md).

Each case is one task's answer, written as edits of the reference solution (or a whole answer
cell), with what grading must make of it: ``full`` marks for a correct answer that differs from
the reference, or ``fail``: the task loses points and a named check fails with a given text in
its message. ``load_cases`` reads and validates every file strictly, so a typo is an error that
names the file and the case, never a case that silently proves nothing.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from autograder.authoring.notebooks import ROOT

CASES = ROOT / "autograder" / "selfcheck_cases"
KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
NOTEBOOK_PREFIX = re.compile(r"(\d\d)_")
REQUIRED = ("name", "task", "problem", "why", "expect")
FOR_FAIL = ("check", "message")
EDITS = ("replace", "source")
EXPECT = ("full", "fail")


class CaseError(ValueError):
    """A case file that cannot be run as written."""


@dataclass(frozen=True)
class Case:
    file: str
    name: str
    notebook: str
    task: str
    problem: str
    why: str
    expect: str
    answer: str  # the answer cell's code as the case hands it in
    check: str | None = None
    message: str | None = None


def load_cases(solutions: dict[str, tuple[str, str]], checks: dict[str, dict[str, str]],
               directory: Path = CASES) -> list[Case]:
    """Every case of ``directory/*.toml``, validated.

    ``solutions``: task -> (notebook, the solution cell's code with its markers removed);
    ``checks``: notebook -> hidden check function -> task.
    """
    cases: list[Case] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise CaseError(f"{path.name}: not valid TOML: {error}") from None
        if set(data) != {"case"} or not isinstance(data["case"], list):
            raise CaseError(f"{path.name}: a case file holds only [[case]] tables, found {sorted(data)}")
        for number, table in enumerate(data["case"], start=1):
            case = _case(path, number, table, solutions, checks)
            if any(c.name == case.name for c in cases):
                raise CaseError(f"{path.name}, case {case.name!r}: another case already has this name")
            cases.append(case)
    return cases


def _case(path: Path, number: int, table: dict, solutions, checks) -> Case:
    where = f"{path.name}, case {table.get('name', f'#{number}')!r}"

    def fail(reason: str):
        raise CaseError(f"{where}: {reason}")

    unknown = set(table) - {*REQUIRED, *FOR_FAIL, *EDITS}
    if unknown:
        fail(f"unknown key(s) {sorted(unknown)}; a case has {', '.join((*REQUIRED, *FOR_FAIL, *EDITS))}")
    missing = [key for key in REQUIRED if key not in table]
    if missing:
        fail(f"missing {', '.join(missing)}")
    for key in (*REQUIRED, *FOR_FAIL, "source"):
        if key in table and not (isinstance(table[key], str) and table[key].strip()):
            fail(f"{key} must be a non-empty string")
    if not KEBAB.fullmatch(table["name"]):
        fail("name must be kebab-case (lowercase words joined by '-')")
    if table["expect"] not in EXPECT:
        fail(f"expect = {table['expect']!r}; use 'full' or 'fail'")
    needed = FOR_FAIL if table["expect"] == "fail" else ()
    for key in FOR_FAIL:
        if (key in table) != (key in needed):
            fail(f"{key} is required with expect = 'fail'" if key in needed else f"{key} is only for expect = 'fail'")
    task = table["task"]
    if task not in solutions:
        fail(f"no notebook has a task {task!r}{_close(task, solutions)}")
    notebook, solution = solutions[task]
    numbered = NOTEBOOK_PREFIX.match(path.name)
    if numbered and not notebook.startswith(numbered[0]):
        fail(f"task {task!r} belongs to {notebook}, not to the notebook this file's name starts with ({numbered[1]})")
    check = table.get("check")
    if check is not None and checks.get(notebook, {}).get(check) != task:
        own = sorted(name for name, of in checks.get(notebook, {}).items() if of == task)
        fail(f"{check!r} is not a hidden check of task {task!r}{_close(check, own)}; its checks: {', '.join(own)}")
    return Case(path.name, table["name"], notebook, task, table["problem"], table["why"], table["expect"],
                _answer(table, solution, fail), check, table.get("message"))


def _answer(table: dict, solution: str, fail) -> str:
    """The case's answer cell: ``source`` as given, or the solution with each edit applied in turn."""
    if ("replace" in table) == ("source" in table):
        fail("give either [[case.replace]] edits or source, not both or neither")
    if "source" in table:
        return table["source"]
    edits = table["replace"]
    if not isinstance(edits, list) or not edits:
        fail("replace must be one or more [[case.replace]] tables")
    code = solution
    for number, edit in enumerate(edits, start=1):
        if not isinstance(edit, dict) or set(edit) != {"old", "new"} or not all(isinstance(v, str) for v in edit.values()):
            fail(f"replace #{number} must have exactly two strings, old and new")
        found = code.count(edit["old"]) if edit["old"] else 0
        if found != 1:
            fail(f"replace #{number}: old = {edit['old']!r} occurs {found} times in the solution's code "
                 "(after the edits before it); it must occur exactly once")
        code = code.replace(edit["old"], edit["new"])
    return code


def _close(name: str, names) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
