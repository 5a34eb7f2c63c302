#!/bin/sh
# The grading Job's container entrypoint (job.yaml): `pod.sh stage` in the trusted init container,
# `pod.sh grade` in the container that grades. Pod i (JOB_COMPLETION_INDEX, which Kubernetes sets
# for an Indexed Job) grades the student on line i+1 of students.txt.
#
# The folders are the Job's mounts; set them to run a pod's work elsewhere
# (tests/test_grading_deployment.py runs it on one machine):
#   CLASS_DIR=/class      the class volume, read-only: students.txt, gradebook.db, submitted/<id>/
#   WORK_DIR=/work        this pod's scratch: what `stage` hands to `grade`
#   RESULTS_DIR=/results  results/<i>/ of the class volume, the only part of it `grade` sees
#   COURSE_DIR=/app       the course directory of the image, where grading happens
set -eu
: "${JOB_COMPLETION_INDEX:?is set by Kubernetes in an Indexed Job; set it to run a pod by hand}"
CLASS_DIR=${CLASS_DIR:-/class}
WORK_DIR=${WORK_DIR:-/work}
RESULTS_DIR=${RESULTS_DIR:-/results}
COURSE_DIR=${COURSE_DIR:-/app}

stage() {
    line=$((JOB_COMPLETION_INDEX + 1))
    student=$(sed -n "${line}p" "$CLASS_DIR/students.txt")
    test -n "$student" || { echo "students.txt has no line $line: completions must be its number of lines" >&2; exit 1; }
    test -d "$CLASS_DIR/submitted/$student/mlops" || { echo "no submitted/$student/mlops on the class volume" >&2; exit 1; }
    mkdir -p "$WORK_DIR/submitted"
    cp -r "$CLASS_DIR/submitted/$student" "$WORK_DIR/submitted/"
    cp "$CLASS_DIR/gradebook.db" "$WORK_DIR/gradebook.db"
    echo "$student" > "$WORK_DIR/student"
}

grade() {
    student=$(cat "$WORK_DIR/student")
    cd "$COURSE_DIR"
    if [ -e gradebook.db ] || [ -e submitted ]; then
        echo "$COURSE_DIR already holds a gradebook or submissions: grade in a fresh course directory" >&2
        exit 1
    fi
    cp -r "$WORK_DIR/submitted" "$WORK_DIR/gradebook.db" .
    # The same grading as on one machine; exit 1 when a notebook errored (its grades are still written).
    status=0
    python -m autograder autograde --jobs 1 || status=$?
    # Student code ran only in bubblewrap sandboxes, whose processes die with them; as the
    # container's PID 1 (never on a shared machine), end anything else left running all the same.
    if [ "$$" = 1 ]; then kill -KILL -1 2>/dev/null || true; fi
    test -d "autograded/$student/mlops" || { echo "grading $student produced nothing (exit $status)" >&2; exit 1; }
    python -m autograder feedback
    find "$RESULTS_DIR" -mindepth 1 -delete
    cp -r autograded feedback "$RESULTS_DIR/"
    cp gradebook.db* "$RESULTS_DIR/"
    if [ -d reports ]; then cp -r reports "$RESULTS_DIR/"; fi
    echo "$status" > "$RESULTS_DIR/autograde-exit-status"
    echo "$student" > "$RESULTS_DIR/student"
}

case "${1:-}" in
    stage) stage ;;
    grade) grade ;;
    *) echo "usage: pod.sh stage|grade" >&2; exit 2 ;;
esac
