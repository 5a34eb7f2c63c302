"""Kubernetes grading (deployments/grading/) as shipped, without a cluster.

The manifests are valid Kubernetes objects (offline schemas of ``kubernetes-validate``), the scripts
are valid shell, each pod sees only its own student, and ``cluster.sh wait`` ends at the first failed
pod. Then a class goes through it: ``cluster.sh stage`` (against a kubectl whose transfer pod is
this machine), the Job's own entrypoint (``pod.sh stage``, ``pod.sh grade``) once per completion
index in a fresh copy of what the Dockerfile puts in the image, ``cluster.sh collect`` (which
merges), and the merged gradebook must hold exactly the scores a one-machine
``python -m autograder autograde`` gives the same submissions. Two students, every notebook."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import kubernetes_validate
import nbformat
import pytest
import yaml

from autograder.authoring import course
from autograder.classroom import merge
from autograder.classroom.grades import class_grades
from autograder.proof import selfcheck

ROOT = Path(__file__).resolve().parent.parent
GRADING = ROOT / "deployments" / "grading"
KUBERNETES = "1.33.0"  # user namespaces and unmasked /proc (what bubblewrap needs) are on by default from here
DUE = "2026-11-20 23:59:00 UTC"
STUDENTS = {"s-early": "2026-11-20 10:00:00 UTC", "s-late": "2026-11-21 09:00:00 UTC"}  # s-late: 1 started day


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomized() -> list[dict]:
    kustomization = yaml.safe_load((GRADING / "kustomization.yaml").read_text())
    found = [doc for name in kustomization["resources"] for doc in documents(GRADING / name)]
    for doc in found:
        if doc["kind"] != "Namespace":
            doc["metadata"].setdefault("namespace", kustomization["namespace"])
    return found


def rendered_job(students: int) -> dict:
    """The Job as ``cluster.sh`` applies it, for a class of ``students``."""
    out = subprocess.run(["bash", str(GRADING / "cluster.sh"), "render-job", str(students)], check=True,
                         capture_output=True, text=True, env=dict(os.environ, IMAGE="registry.example.edu/c/grader:1"))
    (job,) = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
    return job


@pytest.fixture(scope="module")
def job():
    return rendered_job(3)


def pod(job):
    return job["spec"]["template"]["spec"]


def test_manifests_are_valid_kubernetes_objects_offline(job):
    """Validated against the schemas bundled in the pinned kubernetes-validate (no network)."""
    kustomization = yaml.safe_load((GRADING / "kustomization.yaml").read_text())
    objects = kustomized() + [job] + documents(GRADING / "transfer-pod.yaml")
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    kinds = {obj["kind"] for obj in objects}
    assert {"Namespace", "PersistentVolumeClaim", "NetworkPolicy", "Job", "Pod"} <= kinds
    assert {obj["metadata"].get("namespace") for obj in objects if obj["kind"] != "Namespace"} == {kustomization["namespace"]}
    assert job["spec"]["completions"] == 3 and {c["image"] for c in pod(job)["containers"]} == {"registry.example.edu/c/grader:1"}


def test_a_failed_pod_fails_its_student_only_and_is_not_retried_blindly(job):
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["backoffLimitPerIndex"] >= 1 and "backoffLimit" not in spec
    rules = {rule["action"]: rule for rule in spec["podFailurePolicy"]["rules"]}
    assert rules["FailIndex"]["onExitCodes"] == {"operator": "NotIn", "values": [0]}
    assert rules["Ignore"]["onPodConditions"][0]["type"] == "DisruptionTarget"
    assert pod(job)["restartPolicy"] == "Never"


def test_the_wait_ends_at_the_first_failed_pod():
    assert subprocess.run(["bash", "-n", str(GRADING / "cluster.sh")]).returncode == 0
    assert "condition=complete" not in (GRADING / "cluster.sh").read_text()
    # active|succeeded|failed|failedIndexes|true conditions, one line per poll
    ended = fake_wait(["2||||", "1|0|1|1|"])  # the Job still runs: the wait ends all the same
    assert ended.returncode == 1 and "s-late (index 1)" in ended.stdout and "wait (again)" in ended.stdout, ended.stdout
    assert fake_wait(["2||||", "|2|||Complete "]).returncode == 0
    assert fake_wait(["|1|1|1|FailureTarget Failed "]).returncode == 1
    timed_out = fake_wait(["2||||"])
    assert timed_out.returncode == 1 and "still grading" in timed_out.stdout


def fake_wait(polls: list[str]) -> subprocess.CompletedProcess:
    """``cluster.sh wait`` against a kubectl whose Job status is each of ``polls`` in turn (the last
    repeats) and whose failed pod is index 1's."""
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir, course_dir = Path(tmp, "bin"), Path(tmp, "course")
        (course_dir / "reports" / "cluster").mkdir(parents=True)
        (course_dir / "reports" / "cluster" / "students.txt").write_text("s-early\ns-late\n")
        bin_dir.mkdir()
        Path(tmp, "polls").write_text("".join(line + "\n" for line in polls))
        (bin_dir / "kubectl").write_text(f"""#!/bin/sh
case "$*" in
  *" get pods "*) echo "1 mlops-autograde-1-x7k2p" ;;
  *" get job "*) head -n 1 {tmp}/polls; [ $(wc -l < {tmp}/polls) -gt 1 ] && sed -i 1d {tmp}/polls; true ;;
  *) exit 3 ;;
esac
""")
        (bin_dir / "kubectl").chmod(0o755)
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", POLL_SECONDS="0.2", WAIT_TIMEOUT="2")
        return subprocess.run(["bash", str(GRADING / "cluster.sh"), "wait"], cwd=course_dir, env=env,
                              capture_output=True, text=True, timeout=60)


def test_student_code_sees_only_its_own_submission_and_results(job):
    spec = pod(job)
    (grade,) = spec["containers"]
    mounts = {m["mountPath"]: m for m in grade["volumeMounts"]}
    assert mounts["/work"]["readOnly"] is True
    assert [m.get("subPathExpr") for m in mounts.values() if m["name"] == "class"] == ["results/$(JOB_COMPLETION_INDEX)"]
    (stage,) = spec["initContainers"]
    assert all(m.get("readOnly") for m in stage["volumeMounts"] if m["name"] == "class")
    assert stage["args"] == ["stage"] and grade["args"] == ["grade"]
    assert spec["automountServiceAccountToken"] is False
    (policy,) = [doc for doc in kustomized() if doc["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "egress" not in policy["spec"]


def test_results_are_writable_by_the_pods_user_and_the_image_is_pulled_privately(job):
    spec = pod(job)
    dockerfile = (GRADING / "Dockerfile").read_text()
    uid = spec["securityContext"]["runAsUser"]
    assert spec["securityContext"]["fsGroup"] == uid and f"USER {uid}" in dockerfile
    (transfer,) = documents(GRADING / "transfer-pod.yaml")
    assert transfer["spec"]["securityContext"]["runAsUser"] == uid  # it creates results/<i>/ as that user
    secrets = {s["name"] for s in spec["imagePullSecrets"]} | {s["name"] for s in transfer["spec"]["imagePullSecrets"]}
    assert len(secrets) == 1 and secrets.pop() in (GRADING / "cluster.sh").read_text()


def test_the_grading_container_can_start_the_sandbox(job):
    """bubblewrap, unprivileged, needs to create user namespaces (seccomp, AppArmor) and to mount a
    fresh /proc, which a masked /proc forbids; the pod gets both, and no capability."""
    spec = pod(job)
    (grade,) = spec["containers"]
    context = grade["securityContext"]
    assert spec["hostUsers"] is False and context["procMount"] == "Unmasked"
    assert context["seccompProfile"]["type"] == "Unconfined" and context["appArmorProfile"]["type"] == "Unconfined"
    assert context["capabilities"]["drop"] == ["ALL"] and context["allowPrivilegeEscalation"] is False
    assert "bubblewrap" in (GRADING / "Dockerfile").read_text()


def test_image_holds_what_the_pods_run(job):
    dockerfile = (GRADING / "Dockerfile").read_text()
    for source, _ in image_copies():
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    spec = pod(job)
    for container in spec["initContainers"] + spec["containers"]:
        assert container["command"] == ["/app/deployments/grading/pod.sh"]
    assert "WORKDIR /app" in dockerfile and "tinytorch-grader:" in dockerfile


def image_copies() -> list[tuple[str, str]]:
    """(source in the repository, destination under /app) of every COPY of the Dockerfile."""
    copies = []
    for line in re.findall(r"^COPY (.+)$", (GRADING / "Dockerfile").read_text(), re.M):
        *sources, destination = line.split()
        for source in sources:
            copies.append((source, source if destination == "./" else destination.removeprefix("./")))
    return copies


def image_course(where: Path) -> Path:
    """What the Dockerfile puts in /app, with the due date the instructor configured."""
    for source, destination in image_copies():
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, where / destination, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (where / destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, where / destination)
    config = where / "nbgrader_config.py"
    text = config.read_text()
    assert 'c.Deadline.duedate = ""' in text
    config.write_text(text.replace('c.Deadline.duedate = ""', f'c.Deadline.duedate = "{DUE}"'))
    return where


def python_env() -> dict:
    return dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))


def run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, cwd=cwd, env={**python_env(), **env}, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def submit(root: Path, released: dict, sources: dict) -> None:
    """s-early answers every task; s-late every other one, a day late."""
    for number, (student, time) in enumerate(STUDENTS.items()):
        folder = root / "submitted" / student / course.ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "timestamp.txt").write_text(time)
        tasks = iter(range(10**6))

        def fill(task, solution, stub):
            return selfcheck.answered(solution) if number == 0 or next(tasks) % 2 == 0 else stub

        for name, nb in released.items():
            nbformat.write(selfcheck.submission(nb, sources[name], fill), folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    """(the instructor's course after a cluster run and merge, a one-machine grading of the same class)."""
    tmp = tmp_path_factory.mktemp("grading")
    instructor = image_course(tmp / "instructor")
    course.release(instructor, quiet=True)
    released = course.notebooks(instructor / "assignments" / course.ASSIGNMENT)
    submit(instructor, released, course.notebooks(instructor / "source" / course.ASSIGNMENT))

    one_machine = image_course(tmp / "one-machine")
    shutil.copytree(instructor / "submitted", one_machine / "submitted")
    shutil.copy2(instructor / "gradebook.db", one_machine / "gradebook.db")
    run([sys.executable, "-m", "autograder", "autograde", "--jobs", "2"], one_machine)

    volume = tmp / "volume"
    volume.mkdir()
    script = ["bash", str(GRADING / "cluster.sh")]
    cluster = dict(PATH=f"{fake_kubectl(tmp / 'bin', volume)}:{python_env()['PATH']}", PYTHON=sys.executable)
    run([*script, "stage"], instructor, **cluster)
    assert (volume / "students.txt").read_text() == "".join(f"{s}\n" for s in STUDENTS)
    for index in range(len(STUDENTS)):
        image = image_course(tmp / f"pod-{index}")
        mounts = dict(JOB_COMPLETION_INDEX=str(index), CLASS_DIR=str(volume), WORK_DIR=str(tmp / f"work-{index}"),
                      RESULTS_DIR=str(volume / "results" / str(index)), COURSE_DIR=str(image))
        for step in ("stage", "grade"):
            run([str(image / "deployments" / "grading" / "pod.sh"), step], tmp, **mounts)
    merged = run([*script, "collect"], instructor, **cluster)
    return instructor, one_machine, merged.stdout


def fake_kubectl(bin_dir: Path, volume: Path) -> Path:
    """A kubectl whose transfer pod is this machine with ``volume`` as its /class."""
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(f"""#!/bin/sh
case "$*" in
  *" exec "*)
    while [ "$1" != "--" ]; do shift; done; shift
    for arg; do set -- "$@" "$(printf %s "$arg" | sed "s#/class#{volume}#g")"; shift; done
    exec "$@" ;;
  *"apply -f -"*) cat > /dev/null ;;
  *"wait --for=condition=Ready"*) ;;
  *) echo "kubectl $* is not faked" >&2; exit 3 ;;
esac
""")
    (bin_dir / "kubectl").chmod(0o755)
    return bin_dir


def test_merged_gradebook_has_the_one_machine_scores(cluster_run):
    instructor, one_machine, log = cluster_run
    assert f"merged {len(STUDENTS)} students" in log, log
    columns, merged = class_grades(instructor)
    assert (columns, merged) == class_grades(one_machine)
    scores = {row.student: row for row in merged}
    assert set(scores) == set(STUDENTS)
    written = sum(points for task, points in columns.items() if task.endswith("/systems_thinking"))
    assert written > 0, "the written answers (graded by hand) count in the maximum"
    assert scores["s-late"].raw_score < scores["s-early"].raw_score == scores["s-early"].max_score - written
    assert scores["s-late"].penalty > 0 and scores["s-early"].penalty == 0 and scores["s-late"].hours_late > 0


def test_export_feedback_and_formgrader_work_on_the_merged_course(cluster_run):
    instructor, _, _ = cluster_run
    shutil.rmtree(instructor / "feedback")  # made again from the merged gradebook, as after manual grading
    run([sys.executable, "-m", "autograder", "feedback"], instructor)
    run([sys.executable, "-m", "autograder", "export", "--out", "grades.csv"], instructor)
    rows = (instructor / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(STUDENTS)
    run([sys.executable, "-m", "autograder.grading.nbgrader_app", "export", f"--CourseDirectory.root={instructor}"], ROOT)
    for student in STUDENTS:  # formgrader opens these: each graded notebook beside its gradebook entry
        for name in course.notebooks(instructor / "assignments" / course.ASSIGNMENT):
            assert (instructor / "autograded" / student / course.ASSIGNMENT / f"{name}.ipynb").is_file()
            assert (instructor / "feedback" / student / course.ASSIGNMENT / f"{name}.html").is_file()


def test_merge_takes_each_students_grades_only_from_their_own_pod(cluster_run, tmp_path):
    """Results swapped between pods (or a pod that wrote someone else's rows) merge nothing."""
    instructor, _, _ = cluster_run
    results = instructor / "reports" / "cluster" / "results"
    swapped = tmp_path / "results"
    shutil.copytree(results / "0", swapped / "1")
    shutil.copytree(results / "1", swapped / "0")
    before = class_grades(instructor)
    outcome = merge.merge(swapped, results.parent / "students.txt", instructor)
    assert outcome.students == [] and len(outcome.missing) == len(STUDENTS)
    assert all("holds no submission" in line for line in outcome.missing)
    assert class_grades(instructor) == before
    with pytest.raises(merge.MergeError, match="students.txt"):
        merge.merge(results, tmp_path / "students.txt", instructor)
