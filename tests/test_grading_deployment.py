"""The Kubernetes grading Job parses, runs only commands that exist, and isolates each student:
the pod that runs student code sees its own submission and its own results folder, nothing else."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from nbgrader.apps.nbgraderapp import NbGraderApp

from autograder import __main__ as cli
from autograder import course

ROOT = Path(__file__).resolve().parent.parent
GRADING = ROOT / "deployments" / "grading"


@pytest.fixture(scope="module")
def manifests():
    return {doc["kind"]: doc for doc in yaml.safe_load_all((GRADING / "job.yaml").read_text())}


def pod(manifests):
    return manifests["Job"]["spec"]["template"]["spec"]


def scripts(manifests):
    spec = pod(manifests)
    return {c["name"]: c["args"][0] for c in spec["initContainers"] + spec["containers"]}


def commands(script: str, program: str) -> list[list[str]]:
    """The argument lists of every ``program ...`` command in a shell script (variables blanked)."""
    found = []
    for line in script.splitlines():
        for part in re.split(r"&&|\|\||;", line.split("#")[0]):
            words = shlex.split(re.sub(r'"?\$\w+"?', "X", part))
            if words[:len(program.split())] == program.split():
                found.append(words[len(program.split()):])
    return found


def test_one_indexed_completion_per_student_and_failures_stay_per_student(manifests):
    spec = manifests["Job"]["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] >= spec["parallelism"] >= 1
    assert spec["backoffLimitPerIndex"] >= 1 and "backoffLimit" not in spec
    assert pod(manifests)["restartPolicy"] == "Never"


def test_scripts_are_valid_shell_and_every_command_exists(manifests):
    for name, script in scripts(manifests).items():
        assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0, name
    grade = scripts(manifests)["grade"]
    nbgrader = commands(grade, "nbgrader")
    assert [args[0] for args in nbgrader] == ["autograde", "generate_feedback"]
    for args in nbgrader:
        assert args[0] in NbGraderApp.subcommands and args[1] == course.ASSIGNMENT and "--student" in args
    (export,) = commands(grade, "python -m autograder")
    with pytest.raises(SystemExit) as parsed:
        cli.main([*export, "--help"])
    assert parsed.value.code == 0 and export[:2] == ["export", "--out"]


def test_student_code_sees_only_its_own_submission_and_results(manifests):
    spec = pod(manifests)
    volumes = {v["name"] for v in spec["volumes"]}
    (grade,) = spec["containers"]
    mounts = {m["mountPath"]: m for m in grade["volumeMounts"]}
    assert {m["name"] for m in mounts.values()} <= volumes
    assert mounts["/work"]["readOnly"] is True
    class_mounts = [m for m in mounts.values() if m["name"] == "class"]
    assert [m.get("subPathExpr") for m in class_mounts] == ["results/$(INDEX)"]
    assert {e["name"] for e in grade["env"]} >= {"INDEX"}
    (stage,) = spec["initContainers"]
    assert all(m.get("readOnly") for m in stage["volumeMounts"] if m["name"] == "class")
    assert "> /work/student" in scripts(manifests)["stage"] and "$(cat /work/student)" in scripts(manifests)["grade"]
    assert spec["automountServiceAccountToken"] is False
    policy = manifests["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= manifests["Job"]["spec"]["template"]["metadata"]["labels"].items()
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in policy and "egress" not in policy


def test_results_are_written_only_after_student_code_is_gone(manifests):
    grade = scripts(manifests)["grade"]
    order = [grade.index(step) for step in ("nbgrader autograde", "kill -KILL -1", "find /results -mindepth 1 -delete",
                                            "autograder export", "generate_feedback")]
    assert order == sorted(order)


def test_the_grading_container_can_start_the_sandbox(manifests):
    (grade,) = pod(manifests)["containers"]
    context = grade["securityContext"]
    assert context["seccompProfile"]["type"] == "Unconfined", "bwrap needs to create namespaces"
    assert context["capabilities"]["drop"] == ["ALL"] and context["allowPrivilegeEscalation"] is False
    assert "bubblewrap" in (GRADING / "Dockerfile").read_text()


def test_image_holds_what_the_pods_run(manifests):
    dockerfile = (GRADING / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for source in line.split():
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    spec = pod(manifests)
    images = {c["image"] for c in spec["initContainers"] + spec["containers"]}
    assert len(images) == 1 and f"-t {images.pop()} " in dockerfile
    assert f"USER {spec['securityContext']['runAsUser']}" in dockerfile
    assert all(c.get("workingDir", "/app") == "/app" for c in spec["containers"]) and "WORKDIR /app" in dockerfile
