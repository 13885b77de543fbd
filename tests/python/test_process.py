"""laueproc.process: the same results as analyze and as the command; Ctrl-C stops cleanly, resumable."""
import csv
import os
import signal
import subprocess
import threading

import numpy as np
import pytest

import laueproc
from conftest import cli_binary, needs_h5py


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@needs_h5py
def test_process_gives_the_peaks_of_analyze(small_scan, tmp_path):
    import h5py

    report = laueproc.process(small_scan["path"], out=tmp_path / "r.h5", csv=tmp_path / "csv", threads=2)
    assert report.frames_total == report.frames_processed == 6 and report.frames_failed == 0
    with h5py.File(small_scan["path"], "r") as f:
        frames = f["/entry/data/data"][()]
    rows = read_csv(tmp_path / "csv" / "peaks.csv")
    summaries = read_csv(tmp_path / "csv" / "frames.csv")
    assert len(rows) == report.peaks
    batch = laueproc.analyze_batch(frames, threads=2)
    for i, frame in enumerate(frames):
        r = laueproc.analyze(frame)
        np.testing.assert_array_equal(batch[i].peaks, r.peaks)
        mine = [row for row in rows if int(row["frame"]) == i]
        assert len(mine) == len(r.peaks)
        for row, peak in zip(mine, r.peaks):
            for name in r.peaks.dtype.names:  # CSV numbers read back to the identical double
                assert float(row[name]) == float(peak[name]) or (np.isnan(float(row[name])) and np.isnan(peak[name]))
        s = summaries[i]
        for name in ("n_peaks", "se", "se_median", "split_px", "background", "noise", "n_used", "elongation"):
            assert float(s[name]) == float(r.summary[name]) or (np.isnan(float(s[name])) and np.isnan(r.summary[name]))
        assert s["scenario"] == r.summary["scenario"] and s["status"] == r.summary["status"]


def test_process_matches_the_command(small_scan, tmp_path):
    binary = cli_binary()
    if binary is None:
        pytest.skip("the laueproc program is not built here")
    laueproc.process(small_scan["path"], out=tmp_path / "py.h5", csv=tmp_path / "py", k_high=7)
    subprocess.run([binary, "process", small_scan["path"], "--out", str(tmp_path / "cli.h5"), "--csv",
                    str(tmp_path / "cli"), "--k-high", "7", "--quiet"], check=True)
    for name in ("peaks.csv", "frames.csv"):
        assert (tmp_path / "py" / name).read_text() == (tmp_path / "cli" / name).read_text()
    # Same settings and fingerprint in both files: Settings round-trips through either.
    assert laueproc.Settings.from_results(tmp_path / "py.h5") == laueproc.Settings.from_results(tmp_path / "cli.h5")
    assert laueproc.Settings.from_results(tmp_path / "py.h5") == laueproc.Settings(k_high=7)
    py_attrs = laueproc.read_results(tmp_path / "py.h5", as_xarray=False)["attrs"]
    cli_attrs = laueproc.read_results(tmp_path / "cli.h5", as_xarray=False)["attrs"]
    assert py_attrs["run_fingerprint"] == cli_attrs["run_fingerprint"]
    assert py_attrs["command_line"].startswith("laueproc.process(")


@pytest.fixture(scope="module")
def long_scan(tmp_path_factory):
    """64 frames of 512 x 512: about a second of work on one thread, so an interruption lands mid-run
    (laueproc.process looks at Ctrl-C and calls progress every 0.1 s)."""
    folder = tmp_path_factory.mktemp("long")
    return laueproc.simulate_scan(folder / "scan.h5", grid=(8, 8), size=512, seed=2, threads=2)


def test_progress_and_interrupt_then_resume(long_scan, tmp_path):
    seen = []

    def stop_after_two(done, total):
        seen.append((done, total))
        if done >= 2:
            raise KeyboardInterrupt

    out = tmp_path / "r.h5"
    with pytest.raises(KeyboardInterrupt, match="resume=True"):
        laueproc.process(long_scan["path"], out=out, csv=tmp_path / "csv", progress=stop_after_two, threads=1)
    assert seen and seen[-1][1] == 64
    assert os.path.exists(str(out) + ".journal")  # the written frames are kept
    progress = []
    report = laueproc.process(long_scan["path"], out=out, csv=tmp_path / "csv", resume=True,
                              progress=lambda d, t: progress.append(d), threads=2)
    assert 2 <= report.frames_resumed < 64 and report.frames_resumed + report.frames_processed == 64
    assert progress[-1] == 64
    assert not os.path.exists(str(out) + ".journal")
    laueproc.process(long_scan["path"], out=tmp_path / "whole.h5", csv=tmp_path / "whole", threads=2)
    for name in ("peaks.csv", "frames.csv"):
        assert (tmp_path / "csv" / name).read_text() == (tmp_path / "whole" / name).read_text()


def test_sigint_stops_the_run_cleanly(long_scan, tmp_path):
    out = tmp_path / "r.h5"
    started, finished = threading.Event(), threading.Event()
    interrupts = []

    # Ctrl-C in Jupyter is SIGINT to the kernel, whose handler raises KeyboardInterrupt on the main
    # thread, which laueproc.process wakes every 0.1 s while the pipeline runs without the GIL.
    # SIGINT is sent every 0.05 s once the run has started until it has stopped; the handler raises
    # KeyboardInterrupt for the first one only, so a late signal cannot hit the test itself.
    def on_sigint(signum, frame):
        interrupts.append(signum)
        if len(interrupts) == 1:
            raise KeyboardInterrupt

    def interrupter():
        started.wait(30)
        while not finished.wait(0.05):
            os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, on_sigint)
    thread = threading.Thread(target=interrupter)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted after"):
            laueproc.process(long_scan["path"], out=out, progress=lambda done, total: started.set(), threads=1)
    finally:
        finished.set()
        thread.join()
        signal.signal(signal.SIGINT, previous)
    assert os.path.exists(str(out) + ".journal")
    report = laueproc.process(long_scan["path"], out=out, resume=True, threads=2)
    assert 1 <= report.frames_resumed < 64 and report.frames_resumed + report.frames_processed == 64


def test_process_errors(small_scan, tmp_path):
    with pytest.raises(OSError, match="no-such-scan.h5"):
        laueproc.process(tmp_path / "no-such-scan.h5", out=tmp_path / "r.h5")
    with pytest.raises(ValueError, match="--k-low must not exceed --k-high"):
        laueproc.process(small_scan["path"], out=tmp_path / "r.h5", k_low=10)
    with pytest.raises(OSError, match=str(tmp_path)):
        laueproc.process(small_scan["path"], out=tmp_path)  # a folder, not a file
    with pytest.raises(ValueError, match="--grid"):
        laueproc.process(small_scan["path"], out=tmp_path / "r.h5", grid="3by2")
    with pytest.raises(ValueError, match="--backend"):
        laueproc.process(small_scan["path"], out=tmp_path / "r.h5", backend="tpu")
    if not laueproc.built_with_cuda:
        with pytest.raises(ValueError, match="built without CUDA"):
            laueproc.process(small_scan["path"], out=tmp_path / "r.h5", backend="cuda")
    elif laueproc.cuda_devices() == 0:
        with pytest.raises(ValueError, match="no CUDA device answered"):
            laueproc.process(small_scan["path"], out=tmp_path / "r.h5", backend="cuda")
