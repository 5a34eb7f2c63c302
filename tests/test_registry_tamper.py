"""A registry whose files were damaged or edited: each case of issue 19, one test each.

Every test here failed on the registry before it validated records, sealed them in a ledger
and read only bounded regular files. Special files (/dev/zero, FIFOs) are read in a child
process with a memory limit and a timeout, so that a loader that reads them forever fails the
test instead of exhausting the machine.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinytorch.core.layers import mlp
from tinytorch.core.mlops.registry import (
    ArtifactIntegrityError, DamagedRecordError, DamagedRecordWarning, ModelRegistry,
    RegistryError, TamperedRecordError, VersionNotFoundError,
)
from tinytorch.core.mlops.registry.ledger import field_digests
from tinytorch.core.mlops.registry.records import parse_record
from tinytorch.core.mlops.registry.recover import main as recover


@pytest.fixture
def registry(tmp_path):
    registry = ModelRegistry(tmp_path / "production")
    for seed in (1, 2):
        registry.register_model(mlp((8, 4, 3), seed=seed), metrics={"accuracy": 0.5 + seed / 10},
                                params={"seed": seed})
    registry.set_alias("champion", "1")
    registry.set_alias("challenger", "2")
    return registry


def record_path(registry, version):
    return registry.root / "models" / "model" / "versions" / f"{version}.json"


def edit_record(registry, which, **fields):
    path = record_path(registry, which)
    record = json.loads(path.read_bytes())
    record.update(fields)
    path.write_text(json.dumps(record))


def still_usable(registry, *versions):
    """The given versions load, and so do the aliases that point at them."""
    for version in versions:
        registry.load_model(version)
    for alias, version in registry.aliases().items():
        if version in versions:
            assert registry.get_alias(alias).version == version


# -- paths outside the root --------------------------------------------------------------------

def test_a_version_field_leading_outside_never_deletes_outside(registry, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("precious")
    edit_record(registry, "1", version="../../../../outside")
    with pytest.raises(DamagedRecordError, match=r"1\.json: version '1' .* version field reads"):
        registry.delete_version("1")
    assert outside.read_text() == "precious"
    still_usable(registry, "2")


def test_an_artifact_hash_that_is_a_path_is_never_opened(registry, tmp_path):
    (tmp_path / "file").write_bytes(b"outside")
    edit_record(registry, "1", sha256="../../file")
    with pytest.raises(DamagedRecordError, match="sha256 field '../../file' is not 64"):
        registry.load_model("1")
    with pytest.raises(ArtifactIntegrityError, match="not a sha256"):
        registry.blobs.get("../../file")


def test_a_symlinked_model_folder_is_refused(registry, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (registry.root / "models" / "other").symlink_to(elsewhere)
    with pytest.raises(RegistryError, match="symbolic link"):
        registry.register_model(mlp((8, 4, 3)), name="other")
    assert list(elsewhere.iterdir()) == []
    assert registry.list_models() == ["model"]


# -- records bound to their artifacts and history ----------------------------------------------

def test_re_pointing_a_record_at_another_artifact_is_detected(registry):
    other = registry.get_version("2").sha256
    edit_record(registry, "1", sha256=other)
    with pytest.raises(TamperedRecordError, match=r"version '1' .*fields changed since "
                                                  r"registration: sha256 .*re-pointed"):
        registry.load_model("1")
    still_usable(registry, "2")


@pytest.mark.parametrize("field, value", [
    ("metrics", {"accuracy": 0.99}), ("params", {"seed": 7}), ("created_at", 1.0),
    ("lineage", {"parent_version": "2", "data_hash": None, "code_hash": None}),
])
def test_editing_metrics_lineage_or_params_is_detected_naming_the_field(registry, field, value):
    edit_record(registry, "1", **{field: value})
    with pytest.raises(TamperedRecordError, match=f"fields changed since registration: {field}"):
        registry.get_version("1")


def test_a_record_not_written_by_the_registry_is_refused(registry):
    record_path(registry, "3").write_bytes(record_path(registry, "2").read_bytes()
                                           .replace(b'"version": "2"', b'"version": "3"'))
    with pytest.raises(TamperedRecordError, match="has no seal in the ledger"):
        registry.get_version("3")


def test_editing_a_seal_breaks_the_ledger_chain(registry):
    ledger = registry.ledger().path
    lines = ledger.read_bytes().splitlines()
    first = json.loads(lines[0])
    first["record"] = "0" * 64
    ledger.write_bytes(b"\n".join([json.dumps(first, sort_keys=True).encode(), *lines[1:]]) + b"\n")
    problems = [str(p) for p in registry.verify()]
    assert any("line 2 does not chain to the line before it" in p for p in problems), problems


def test_garbage_collection_keeps_the_artifact_of_a_damaged_record(registry, tmp_path):
    blob = registry.root / "blobs" / registry.get_version("1").sha256
    record_path(registry, "1").write_bytes(b"{")
    assert registry.collect_garbage() == {"temp_files": 0, "blobs": 0}
    assert blob.exists()  # recovery can still restore version 1 from a trusted record
    (registry.root / "blobs" / "a-directory").mkdir()
    registry.delete_version("2")
    assert blob.exists() and (registry.root / "blobs" / "a-directory").is_dir()


def test_garbage_collection_never_deletes_through_a_symlinked_blob_folder(registry, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (registry.root / "blobs").rename(elsewhere)
    (elsewhere / "unrelated").write_bytes(b"keep me")
    (registry.root / "blobs").symlink_to(elsewhere)
    with pytest.raises(RegistryError, match="symbolic link"):
        registry.collect_garbage()
    assert (elsewhere / "unrelated").read_bytes() == b"keep me"


def test_a_ledger_rewritten_wholesale_shows_a_different_head(registry):
    """The hash chain alone cannot catch a ledger rewritten from some line to its end; a head
    kept elsewhere (like a git commit id) can."""
    kept = registry.ledger_head()
    ledger = registry.ledger().path
    entries = [json.loads(line) for line in ledger.read_bytes().splitlines()]
    edit_record(registry, "1", metrics={"accuracy": 1.0})
    data = record_path(registry, "1").read_bytes()
    entries[0]["record"] = hashlib.sha256(data).hexdigest()
    entries[0]["fields"] = field_digests(parse_record(data, "model", "1"))
    previous, lines = None, []
    for entry in entries:  # re-chain every line, as a careful forger would
        lines.append(json.dumps({**entry, "previous": previous}, sort_keys=True).encode())
        previous = hashlib.sha256(lines[-1]).hexdigest()
    ledger.write_bytes(b"\n".join(lines) + b"\n")
    assert registry.get_version("1").metrics == {"accuracy": 1.0}  # the forgery reads clean...
    assert registry.verify() == []
    assert registry.ledger_head() != kept  # ...but not against the head kept elsewhere


# -- special files -----------------------------------------------------------------------------

LOAD_IN_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))  # 2 GiB: /dev/zero must not fill it
from tinytorch.core.mlops.registry import ModelRegistry
try:
    ModelRegistry(sys.argv[1]).load_model(sys.argv[2])
except Exception as error:
    print(type(error).__name__, error)
"""


def load_in_child(registry, version):
    """What loading `version` raises, from a child process limited in memory and time."""
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(LOAD_IN_CHILD),
                            str(registry.root), version], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert child.returncode == 0, child.stderr[-2000:]
    return child.stdout


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_blob_replaced_by_a_special_file_is_refused_unread(registry, special):
    blob = registry.root / "blobs" / registry.get_version("1").sha256
    blob.unlink()
    os.mkfifo(blob) if special == "fifo" else blob.symlink_to(special)
    out = load_in_child(registry, "1")
    assert out.startswith("ArtifactIntegrityError") and str(blob) in out, out
    problem = "is a symbolic link" if special == "/dev/zero" else "is not a regular file"
    assert problem in out, out


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_record_replaced_by_a_special_file_costs_only_itself(registry, special):
    path = record_path(registry, "1")
    path.unlink()
    os.mkfifo(path) if special == "fifo" else path.symlink_to(special)
    out = load_in_child(registry, "1")
    assert out.startswith("DamagedRecordError") and "version '1'" in out, out
    with pytest.warns(DamagedRecordWarning, match="1.json"):
        assert [r.version for r in registry.list_versions()] == ["2"]
    still_usable(registry, "2")


# -- one damaged record or alias line costs only itself ----------------------------------------

def test_a_half_truncated_record_costs_only_its_version(registry):
    registry.register_model(mlp((8, 4, 3), seed=3))
    path = record_path(registry, "2")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DamagedRecordError, match=r"2\.json: version '2' .* not JSON"):
        registry.get_version("2")
    with pytest.warns(DamagedRecordWarning, match="2.json"):
        assert [r.version for r in registry.list_versions()] == ["1", "3"]
    with pytest.warns(DamagedRecordWarning):
        assert registry.latest_version().version == "3"
    still_usable(registry, "1", "3")
    with pytest.raises(DamagedRecordError, match="version '2'"):
        registry.get_alias("challenger")


def test_a_damaged_newest_record_is_named_not_skipped_by_latest(registry):
    path = record_path(registry, "2")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(DamagedRecordWarning), pytest.raises(DamagedRecordError, match="'2'"):
        registry.latest_version()


def test_a_record_truncated_to_nothing_does_not_silently_disappear(registry):
    record_path(registry, "2").write_bytes(b"")
    with pytest.raises(DamagedRecordError, match="empty although its registration finished"):
        registry.get_version("2")
    with pytest.warns(DamagedRecordWarning, match="truncated"):
        assert [r.version for r in registry.list_versions()] == ["1"]
    assert any(p.version == "2" for p in registry.verify())


@pytest.mark.parametrize("line", [
    {"alias": "champion", "action": "set", "version": "2"},
    {"alias": "champion", "action": "set", "version": "2", "at": "yesterday"},
    {"alias": "champion", "action": "set", "version": "../2", "at": 1.0},
    [1, 2, 3],
])
def test_a_malformed_alias_line_costs_only_itself(registry, line):
    log = registry.root / "models" / "model" / "aliases.jsonl"
    with open(log, "a") as f:
        f.write(json.dumps(line) + "\n")
    assert registry.aliases() == {"champion": "1", "challenger": "2"}
    assert registry.get_alias("champion").version == "1"
    assert registry.alias_at("champion", 2e9) == "1"
    registry.set_alias("champion", "2")
    assert registry.rollback("champion").version == "1"
    assert [p.message.split()[:2] for p in registry.verify()] == [["line", "3"]]


# -- inputs checked before a version number is reserved ----------------------------------------

@pytest.mark.parametrize("metrics, message", [
    ({"accuracy": float("nan")}, "metric 'accuracy' is nan"),
    ({"loss": float("inf")}, "metric 'loss' is inf"),
    ({"ok": True}, "metric 'ok' is True"),
    ([("accuracy", 0.9)], "metrics must be a dict"),
])
def test_bad_metrics_are_refused_and_reserve_nothing(registry, metrics, message):
    with pytest.raises(RegistryError, match=message):
        registry.register_model(mlp((8, 4, 3)), metrics=metrics)
    assert registry.register_model(mlp((8, 4, 3))).version == "3"


@pytest.mark.parametrize("params", [{"when": object()}, {"lr": float("nan")}, {1: "int key"}])
def test_params_that_are_not_strict_json_are_refused_and_reserve_nothing(registry, params):
    with pytest.raises(RegistryError, match="cannot register"):
        registry.register_model(mlp((8, 4, 3)), params=params)
    assert registry.register_model(mlp((8, 4, 3))).version == "3"


@pytest.mark.parametrize("not_a_model", [object(), np.zeros((2, 8)), "model.ttm"])
def test_non_models_are_refused_with_a_message(registry, not_a_model):
    with pytest.raises(TypeError, match="register_model needs a tinytorch model"):
        registry.register_model(not_a_model)
    assert registry.register_model(mlp((8, 4, 3))).version == "3"


# -- verify() and the recovery command ---------------------------------------------------------

def test_verify_reports_every_problem_and_recover_quarantines_what_it_can(registry, capsys):
    assert registry.verify() == []
    edit_record(registry, "1", metrics={"accuracy": 1.0})
    record_path(registry, "2").write_bytes(b"{")
    stray = registry.root / "blobs" / "not-an-artifact"
    stray.write_bytes(b"x")
    problems = registry.verify()
    assert {(p.path.name, p.version) for p in problems} == {
        ("1.json", "1"), ("2.json", "2"), ("not-an-artifact", None)}

    assert recover([str(registry.root)]) == 1  # a dry run moves nothing
    out = capsys.readouterr().out
    assert [line.split()[:2] for line in out.splitlines()].count(["would", "quarantine"]) == 3
    assert "models/model/versions/1.json" in out
    assert record_path(registry, "1").exists() and stray.exists()

    assert recover([str(registry.root), "--apply"]) == 0
    quarantined = sorted(p.name for p in (registry.root / "quarantine").rglob("*") if p.is_file())
    assert quarantined == ["1.json", "2.json", "not-an-artifact"]
    remaining = [str(p) for p in registry.verify()]
    assert all("aliases.jsonl" in p and "has no record" in p for p in remaining), remaining
    with pytest.raises(VersionNotFoundError):
        registry.get_version("1")
    assert registry.register_model(mlp((8, 4, 3))).version == "3"


def nested(depth):
    """A dict nested `depth` levels deep (the outermost counted), built without recursion."""
    value = {}
    for _ in range(depth - 1):
        value = {"deep": value}
    return value


@pytest.mark.parametrize("field, value, message", [
    ("params", {"deep": nested(100_000)}, r"params nests deeper than 32 levels"),
    ("params", nested(33), r"params nests deeper than 32 levels"),
    ("config", {"deep": nested(100_000)}, r"config nests deeper than 32 levels"),
    ("params", {"when": {"at": object()}}, r"params\['when'\]\['at'\] is a object"),
    ("params", {"ids": {1, 2}}, r"params\['ids'\] is a set"),
    ("params", {"n": np.int64(3)}, r"params\['n'\] is a int64"),
    ("params", {"layers": [8, float("inf")]}, r"params\['layers'\]\[1\] is inf"),
    ("params", [("lr", 0.1)], "params must be a dict"),
    ("description", object(), "description must be a string, got object"),
    ("description", b"bytes", "description must be a string, got bytes"),
    ("tags", {"owner": object()}, "tag 'owner' is object"),
    ("tags", {"owner": None}, "tag 'owner' is NoneType"),
    ("tags", {3: "three"}, "tag name 3 is a int"),
    ("tags", ["team"], "tags must be a dict"),
    ("params", {"blob": "x" * (1 << 20)}, "over the 1048576-byte limit of a record"),
])
def test_values_a_record_cannot_hold_are_refused_naming_the_field(registry, field, value, message):
    before = sorted(p.name for p in registry.root.rglob("*"))
    with pytest.raises(RegistryError, match=f"cannot register: .*{message}"):
        registry.register_model(mlp((8, 4, 3)), **{field: value})
    assert sorted(p.name for p in registry.root.rglob("*")) == before  # nothing left behind
    assert registry.register_model(mlp((8, 4, 3))).version == "3"


def test_params_at_the_depth_limit_tuples_and_numeric_tags_are_held_faithfully(registry):
    record = registry.register_model(mlp((8, 4, 3)), params={"deep": nested(31), "hidden": (8, 4)},
                                     tags={"epochs": 5}, description="thirty-two levels")
    assert record.params["hidden"] == [8, 4] and record.tags == {"epochs": "5"}
    assert registry.get_version(record.version) == record


@pytest.mark.parametrize("damage", ["truncate", "/dev/zero", "delete"])
def test_a_damaged_version_is_listed_as_damaged_on_every_listing(registry, damage):
    path = record_path(registry, "2")
    if damage == "truncate":
        path.write_bytes(b"")
    else:
        path.unlink()
        if damage != "delete":
            path.symlink_to(damage)
    for _ in range(2):  # the same call site twice: the second listing must warn too
        with pytest.warns(DamagedRecordWarning, match=r"2\.json.*registry\.recover"):
            versions = registry.list_versions()
        assert [r.version for r in versions] == ["1"] and list(versions.damaged) == ["2"]
        assert "damaged: 2" in repr(versions)
    for _ in range(2):
        with pytest.warns(DamagedRecordWarning, match=r"alias 'challenger' points at a damaged version: .*2\.json"):
            assert registry.aliases() == {"champion": "1", "challenger": "2"}
    with pytest.warns(DamagedRecordWarning):
        assert registry.list_models() == ["model"]


def test_a_model_whose_only_version_is_damaged_is_still_listed(tmp_path):
    registry = ModelRegistry(tmp_path / "r")
    registry.register_model(mlp((8, 4, 3)), name="solo")
    (registry.root / "models" / "solo" / "versions" / "1.json").write_bytes(b"")
    with pytest.warns(DamagedRecordWarning, match="1.json"):
        assert registry.list_models() == ["solo"]
