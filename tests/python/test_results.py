"""laueproc.read_results: the results file as numpy arrays (and xarray when installed)."""
import numpy as np
import pytest

import laueproc
from conftest import have


@pytest.fixture(scope="module")
def results(small_scan, tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "r.h5"
    laueproc.process(small_scan["path"], out=out, threads=2, min_pixels=5)
    return out


def test_tables_maps_and_provenance(results, small_scan):
    r = laueproc.read_results(results, as_xarray=False)
    peaks, frames = r["peaks"], r["frames"]
    assert peaks.dtype.names[:4] == ("frame", "peak", "x", "y")
    assert len(frames) == 6 and list(frames["frame"]) == list(range(6))
    assert frames["status"].dtype.kind == "U" and set(frames["status"]) == {"ok"}
    assert r["scenario_names"][:2] == ["defect_free", "gnd"]
    assert np.all(np.bincount(peaks["frame"], minlength=6) == frames["n_peaks"])
    assert r["maps"]["se"].shape == (2, 3) and r["x_um"].shape == (3,) and r["y_um"].shape == (2,)
    # the map holds each frame's SE at its raster cell
    for f in frames:
        assert r["maps"]["se"][f["iy"], f["ix"]] == np.float32(f["se"])
    assert r["attrs"]["program"] == "laueproc" and r["attrs"]["complete"] == 1
    assert r["settings"] == laueproc.Settings(min_pixels=5)
    # the truth the simulator wrote: every frame's scenario is found
    import csv
    with open(small_scan["truth_frames_csv"]) as f:
        truth = {int(row["frame"]): row["scenario"] for row in csv.DictReader(f)}
    found = {int(f["frame"]): r["scenario_names"][f["scenario"]] for f in frames}
    assert sum(found[i] == truth[i] for i in truth) >= 5


def test_peaks_equal_analyze_of_the_same_frames(results, small_scan):
    if not have("h5py"):
        pytest.skip("h5py is not installed")
    import h5py
    r = laueproc.read_results(results, as_xarray=False)
    with h5py.File(small_scan["path"], "r") as f:
        frame = f["/entry/data/data"][4]
    mine = laueproc.analyze(frame, min_pixels=5).peaks
    from_file = r["peaks"][r["peaks"]["frame"] == 4]
    for name in mine.dtype.names:
        np.testing.assert_array_equal(from_file[name], mine[name])


def test_xarray_dataset(results):
    if not have("xarray"):
        with pytest.raises(ImportError):
            laueproc.read_results(results, as_xarray=True)
        pytest.skip("xarray is not installed")
    ds = laueproc.read_results(results)
    assert ds["se"].dims == ("y_um", "x_um") and ds["se"].shape == (2, 3)
    assert ds["frames_se"].dims == ("frame_row",) and ds.sizes["frame_row"] == 6
    assert ds.attrs["settings.threshold.min_pixels"] == "5"
    assert laueproc.Settings.from_description(dict(ds.attrs)) == laueproc.Settings(min_pixels=5)


def test_errors(tmp_path):
    with pytest.raises(OSError, match="no-such.h5"):
        laueproc.read_results(tmp_path / "no-such.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(OSError, match="text.h5"):
        laueproc.read_results(tmp_path / "text.h5")
    with pytest.raises(OSError, match="text.h5"):
        laueproc.Settings.from_results(tmp_path / "text.h5")
