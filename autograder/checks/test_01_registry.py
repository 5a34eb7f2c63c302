import hashlib
import pytest


@pytest.mark.task("content_hash")
def test_content_hash_matches_sha256(student):
    """content_hash equals hashlib's sha256 hex digest"""
    for data in [b"", b"abc", bytes(range(256)) * 10]:
        assert student.content_hash(data) == hashlib.sha256(data).hexdigest(), "wrong digest"


@pytest.mark.task("atomic_write_bytes")
def test_atomic_write_replaces(student, tmp_path):
    """atomic_write_bytes replaces an existing file"""
    p = tmp_path / "a"
    p.write_bytes(b"old")
    student.atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a"], "temporary files left behind"
