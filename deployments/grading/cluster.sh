#!/usr/bin/env bash
# Grade the class on Kubernetes, from the course directory (the repository root):
#
#   IMAGE=registry.example.edu/course/tinytorch-grader:0.1.0 deployments/grading/cluster.sh all
#
# all = up, stage, run (which waits), collect; it stops after run when a pod failed (then: wait, collect).
# Each step alone:
#   up         kubectl apply -k deployments/grading (namespace, class volume, NetworkPolicy);
#              checks the image pull secret exists
#   stage      students.txt (every student in submitted/), gradebook.db and submitted/ onto the class
#              volume, through the transfer pod; empty results/<i>/ folders, one per student
#   run        the Job, one pod per student, then `wait`
#   wait       until the Job completes, or any pod fails (then it says whose, and how to see why)
#   collect    results/ back into reports/cluster/, merged into gradebook.db, autograded/, feedback/
#              and reports/tampering.jsonl (python -m autograder.classroom.merge)
#   down       delete the Job and the transfer pod (the class volume stays)
#   render-job N   print the Job as `run` applies it for N students
#
# Settings: IMAGE (your private registry's copy of the grading image), PARALLELISM (pods at once,
# default 8), WAIT_TIMEOUT (seconds, default 7200), NO_PULL_SECRET=1 (a local cluster whose node
# already has the image), KUBECTL (default kubectl), PYTHON (the course's, default python).
set -euo pipefail

NAMESPACE=mlops-grading
JOB=mlops-autograde
TRANSFER=mlops-class-transfer
PULL_SECRET=mlops-grader-pull
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMAGE=${IMAGE:-tinytorch-grader:0.1.0}
PARALLELISM=${PARALLELISM:-8}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-7200}
POLL_SECONDS=${POLL_SECONDS:-10}
KUBECTL=${KUBECTL:-kubectl}
LOCAL=reports/cluster            # in the course directory; student data, never committed (.gitignore: reports/)
STUDENTS=$LOCAL/students.txt

k() { "$KUBECTL" -n "$NAMESPACE" "$@"; }
fail() { echo "error: $*" >&2; exit 2; }

with_image() { sed "s|image: tinytorch-grader:0.1.0|image: $IMAGE|" "$1"; }

render_job() {
    [[ "$1" =~ ^[1-9][0-9]*$ ]] || fail "render-job needs the number of students, got '$1'"
    with_image "$HERE/job.yaml" | sed -e "s|^  completions: 1 |  completions: $1 |" -e "s|^  parallelism: 8$|  parallelism: $PARALLELISM|"
}

up() {
    "$KUBECTL" apply -k "$HERE"
    if [ "${NO_PULL_SECRET:-}" != 1 ] && ! k get secret "$PULL_SECRET" >/dev/null 2>&1; then
        cat >&2 <<MSG
error: no image pull secret $PULL_SECRET in namespace $NAMESPACE. The grading image holds the
solutions and the hidden checks: push it to a private registry only, and give the cluster its
credentials (a read-only token):
  $KUBECTL -n $NAMESPACE create secret docker-registry $PULL_SECRET \\
      --docker-server=REGISTRY --docker-username=USER --docker-password=TOKEN
(A local cluster that already has the image: NO_PULL_SECRET=1.)
MSG
        exit 2
    fi
}

transfer_pod() {
    with_image "$HERE/transfer-pod.yaml" | "$KUBECTL" apply -f -
    k wait --for=condition=Ready --timeout=300s "pod/$TRANSFER"
}

stage() {
    [ -f gradebook.db ] && [ -d submitted ] || fail "run this from the course directory, after release and collect (no gradebook.db or submitted/ here)"
    mkdir -p "$LOCAL"
    (cd submitted && for d in */mlops; do if [ -d "$d" ]; then echo "${d%/mlops}"; fi; done) > "$STUDENTS"
    n=$(wc -l < "$STUDENTS")
    [ "$n" -gt 0 ] || fail "no submissions in submitted/ (python -m autograder collect ARCHIVE.zip first)"
    transfer_pod
    tar -cf - gradebook.db submitted -C "$LOCAL" students.txt |
        k exec -i "$TRANSFER" -- sh -ec "cd /class && rm -rf submitted results gradebook.db students.txt && tar -xf - &&
            i=0; while [ \$i -lt $n ]; do mkdir -p results/\$i; i=\$((i + 1)); done"
    echo "staged $n students ($STUDENTS)"
}

run() {
    [ -f "$STUDENTS" ] || fail "no $STUDENTS: stage first"
    k delete job "$JOB" --ignore-not-found
    render_job "$(wc -l < "$STUDENTS")" | "$KUBECTL" apply -f -
    wait_job
}

student_of() { sed -n "$(($1 + 1))p" "$STUDENTS"; }

# Ends when the Job completes (0), when it failed (1), or when a pod failed since this wait began
# (1: whose, and the command that shows why). The other students keep grading: wait again.
wait_job() {
    local started=$SECONDS seen="" line active succeeded failed indexes conditions
    while true; do
        line=$(k get job "$JOB" -o jsonpath='{.status.active}|{.status.succeeded}|{.status.failed}|{.status.failedIndexes}|{range .status.conditions[?(@.status=="True")]}{.type} {end}')
        IFS='|' read -r active succeeded failed indexes conditions <<< "$line"
        failed=${failed:-0}
        seen=${seen:-$failed}
        echo "graded ${succeeded:-0}, grading ${active:-0}, failed $failed"
        if [[ " $conditions " == *" Complete "* ]]; then
            echo "every student graded: deployments/grading/cluster.sh collect"
            return 0
        fi
        if [[ " $conditions " == *" Failed "* ]] || [ "$failed" -gt "$seen" ]; then
            echo "failed pods (failed indexes: ${indexes:-none yet}):"
            k get pods -l "batch.kubernetes.io/job-name=$JOB" --field-selector=status.phase=Failed \
                -o jsonpath='{range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index} {.metadata.name}{"\n"}{end}' |
                while read -r index pod; do
                    [ -n "$index" ] && echo "  $(student_of "$index") (index $index): $KUBECTL -n $NAMESPACE logs $pod --all-containers"
                done
            if [[ " $conditions " == *" Failed "* ]]; then
                echo "the Job has finished; collect merges every student that was graded"
            else
                echo "the others keep grading: deployments/grading/cluster.sh wait (again), then collect"
            fi
            return 1
        fi
        if [ $((SECONDS - started)) -ge "$WAIT_TIMEOUT" ]; then
            echo "still grading after $WAIT_TIMEOUT s: deployments/grading/cluster.sh wait"
            return 1
        fi
        sleep "$POLL_SECONDS"
    done
}

collect() {
    [ -f "$STUDENTS" ] || fail "no $STUDENTS: stage first"
    transfer_pod
    rm -rf "$LOCAL/results"
    k exec "$TRANSFER" -- tar -C /class -cf - results | tar -C "$LOCAL" -xf -
    "${PYTHON:-python}" -m autograder.classroom.merge "$LOCAL/results" "$STUDENTS"
}

down() {
    k delete job "$JOB" --ignore-not-found
    k delete pod "$TRANSFER" --ignore-not-found
}

case "${1:-}" in
    up) up ;;
    stage) stage ;;
    run) run ;;
    wait) wait_job ;;
    collect) collect ;;
    down) down ;;
    render-job) render_job "${2:-}" ;;
    all) up; stage; run; collect ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
