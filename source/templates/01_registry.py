# %% [markdown]
# # Module 01: a model registry you can trust
#
# Provisional pipeline check.

# %% provided id=setup
# Set-up. Binder: requirements.txt has installed tinytorch already. Colab: this installs it from
# the course repository (about a minute). Laptop: run `bash .ci/setup` in the repository and use
# its .venv as the kernel.
import importlib.util, subprocess, sys
if importlib.util.find_spec("tinytorch") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "tinytorch-mlops @ git+{{REPOSITORY_URL}}"])

import hashlib, os, tempfile
from pathlib import Path

# %% solution id=content_hash
#| solution tinytorch.core.mlops.registry.storage:content_hash

# %% test id=content_hash points=2
assert content_hash(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
print("content_hash: visible checks passed")

# %% solution id=atomic_write_bytes
#| solution tinytorch.core.mlops.registry.storage:atomic_write_bytes

# %% test id=atomic_write_bytes points=3
with tempfile.TemporaryDirectory() as d:
    atomic_write_bytes(Path(d) / "x.bin", b"hello")
    assert (Path(d) / "x.bin").read_bytes() == b"hello"
print("atomic_write_bytes: visible checks passed")
