"""The .pyi stubs match the extension module and type-check real usage."""

import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).parent


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, cwd=HERE, check=False
    )


def test_stubtest_finds_the_stubs_consistent_with_the_module():
    result = run("mypy.stubtest", "floodgate._floodgate")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("target", [["-p", "floodgate"], [str(HERE / "typing_sample.py")]])
def test_package_and_usage_sample_pass_strict_mypy(target):
    result = run("mypy", "--strict", *target)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["py.typed", "_floodgate.pyi"])
def test_typing_files_are_installed(name):
    import floodgate

    assert (pathlib.Path(floodgate.__file__).parent / name).is_file()
