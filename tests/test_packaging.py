"""What `pip install hf-han` ships: the library, its license, and nothing else."""

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    # built from a copy of what the sdist holds, so that no earlier build's leftovers can slip in
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    if importlib.util.find_spec("setuptools") and importlib.util.find_spec("wheel"):
        command.append("--no-build-isolation")  # no download needed where the build tools are installed
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = out.glob("hf_han-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_holds_the_library_and_nothing_else(wheel):
    names = wheel.namelist()
    library = sorted(name for name in names if not name.startswith("hf_han-"))
    expected = sorted(f"hf_han/{path.name}" for path in (ROOT / "src" / "hf_han").glob("*.py"))
    assert library == expected
    metadata = [name for name in names if name.startswith("hf_han-")]
    assert any(name.endswith("licenses/LICENSE") for name in metadata), metadata


def test_the_license_file_is_the_one_setup_declares(wheel):
    (metadata,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    fields = wheel.read(metadata).decode()
    assert "License: Apache-2.0" in fields or "License-Expression: Apache-2.0" in fields
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
