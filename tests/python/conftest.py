"""Shared fixtures of the Python tests (run by ctest: python.test_*; see python/CMakeLists.txt)."""
import os
import shutil
import subprocess

import numpy as np
import pytest

import laueproc


@pytest.fixture(scope="session")
def gnd_frame():
    """A 512 x 512 simulated frame with streaked peaks and its analytic truth."""
    return laueproc.simulate_frame("gnd", seed=5, size=512)


@pytest.fixture(scope="session")
def small_scan(tmp_path_factory):
    """A 3 x 2 simulated scan (stack layout, 256 x 256 frames) and its folder."""
    folder = tmp_path_factory.mktemp("scan")
    written = laueproc.simulate_scan(str(folder / "scan.h5"), grid=(3, 2), size=256, seed=11, threads=2)
    return written


def cli_binary():
    """The `laueproc` program of this build (ctest sets LAUEPROC_BINARY), or None."""
    path = os.environ.get("LAUEPROC_BINARY")
    return path if path and os.access(path, os.X_OK) else None


def cli_error(*args):
    """The one-line error message `laueproc` prints for these arguments (without its prefix)."""
    binary = cli_binary()
    if binary is None:
        pytest.skip("the laueproc program is not built here")
    run = subprocess.run([binary, *args], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    line = run.stderr.strip().splitlines()[-1]
    message = line.split(": error: ", 1)[1]
    return message.split(" (see laueproc")[0]


def reader_conversion(values):
    """Independent reference of the scan reader's conversion to uint16 (docs: clip to
    [0, 65535], floats rounded half up, NaN -> 0)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.where(np.isnan(v), 0.0, v)
    if np.asarray(values).dtype.kind == "f":
        out = np.floor(np.clip(out, 0, 65535) + 0.5)
    return np.clip(out, 0, 65535).astype(np.uint16)


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


needs_h5py = pytest.mark.skipif(not have("h5py"), reason="h5py is not installed")
