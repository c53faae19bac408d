"""`./dev` finds a supported Python (3.11–3.13) or says in one sentence that there is none."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _checkout_without_venv(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "dev", repo / "dev")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    return repo


def _fake_python(bin_dir: Path, name: str, version: tuple[int, int]) -> None:
    """A `python3.x` that answers the version check like Python `version` would."""
    script = bin_dir / name
    ok = (3, 11) <= version <= (3, 13)
    script.write_text(f"#!/bin/bash\n# Python {version[0]}.{version[1]}\nexit {0 if ok else 1}\n")
    script.chmod(0o755)


def _run_dev(repo: Path, bin_dir: Path) -> subprocess.CompletedProcess:
    (bin_dir / "dirname").symlink_to(shutil.which("dirname"))
    return subprocess.run(["/bin/bash", str(repo / "dev"), "--help"], capture_output=True, text=True,
                          env={"PATH": str(bin_dir)}, timeout=60)


def test_dev_without_a_supported_python_says_so_in_one_sentence(tmp_path):
    repo = _checkout_without_venv(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_python(bin_dir, "python3", (3, 10))
    _fake_python(bin_dir, "python3.14", (3, 14))
    result = _run_dev(repo, bin_dir)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "fieldmate needs Python 3.11, 3.12 or 3.13, and none was found on PATH "
        "(install one, or set FIELDMATE_PYTHON=/path/to/python3.x)."]
    assert not (repo / ".venv").exists()


def test_dev_accepts_python_3_12(tmp_path):
    repo = _checkout_without_venv(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_python(bin_dir, "python3.12", (3, 12))  # `-m venv` then "succeeds" without creating anything
    result = _run_dev(repo, bin_dir)
    assert "needs Python" not in result.stderr
    assert "Setting up .venv" in result.stderr


def test_pyproject_allows_python_3_11_to_3_13():
    import tomllib

    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["requires-python"])
    assert all(version in spec for version in ("3.11.7", "3.12.1", "3.13.0")) and "3.14.0" not in spec
