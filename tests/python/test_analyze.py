"""laueproc.analyze: peaks against the simulator's analytic truth, zero copy, conversions, errors."""
import numpy as np
import pytest

import laueproc
from conftest import cli_error, reader_conversion

PEAK_COLUMNS = ["peak", "x", "y", "intensity", "peak_value", "npix", "a", "b", "theta_deg", "n_maxima",
                "saturated", "mxx", "myy", "mxy", "edge", "snr"]
SUMMARY_COLUMNS = ["frame", "ix", "iy", "x_um", "y_um", "n_peaks", "se", "se_median", "scenario", "split_px",
                   "misorientation_deg", "background", "noise", "status", "n_used", "split_dx", "split_dy",
                   "pair_fraction", "stacking_fraction", "elongation", "has_position"]


def test_peaks_match_the_simulated_truth(gnd_frame):
    frame, truth = gnd_frame
    r = laueproc.analyze(frame)
    assert list(r.peaks.dtype.names) == PEAK_COLUMNS  # peaks.csv's columns but frame
    assert list(r.summary) == SUMMARY_COLUMNS          # frames.csv's columns
    assert r.summary["status"] == "ok" and r.summary["scenario"] == truth["scenario"] == "gnd"
    isolated = truth["peaks"][truth["peaks"]["isolated"] == 1]
    assert len(isolated) >= 10
    for t in isolated:  # every isolated truth spot is found within 0.3 px, with its shape
        d = np.hypot(r.peaks["x"] - t["x"], r.peaks["y"] - t["y"])
        k = int(np.argmin(d))
        assert d[k] < 0.3
        assert abs(r.peaks["a"][k] - t["a"]) < 0.15 * t["a"]
    assert r.peaks["x"].dtype == np.float64 and r.peaks["npix"].dtype == np.int32
    assert r.summary["n_peaks"] == len(r.peaks)


def test_uint16_frame_is_analysed_in_place(gnd_frame):
    frame, _ = gnd_frame
    assert frame.flags.c_contiguous and frame.dtype == np.uint16
    before = laueproc._core._frame_copies()
    r = laueproc.analyze(frame)
    assert laueproc._core._frame_copies() == before  # no conversion, no copy
    assert not r.copied
    assert r._input_address == frame.__array_interface__["data"][0]  # the C++ side read our buffer
    # A slice of columns has contiguous rows: read in place too, with the row stride.
    part = frame[:, 100:400]
    r2 = laueproc.analyze(part)
    assert not r2.copied and r2._input_address == part.__array_interface__["data"][0]
    assert laueproc._core._frame_copies() == before


def test_strided_and_byte_swapped_frames_give_the_same_peaks(gnd_frame):
    frame, _ = gnd_frame
    reference = laueproc.analyze(frame).peaks
    fortran = np.asfortranarray(frame)
    swapped = frame.astype(">u2")
    for other in (fortran, swapped, frame.T.copy().T):
        r = laueproc.analyze(other)
        np.testing.assert_array_equal(r.peaks, reference)
    assert laueproc.analyze(fortran).copied


@pytest.mark.parametrize("dtype", ["int32", "uint32", "float32", "float64", "int64", "uint8"])
def test_other_dtypes_are_converted_as_the_reader_does(gnd_frame, dtype):
    frame, _ = gnd_frame
    values = frame.astype(np.float64)
    if np.dtype(dtype).kind == "f":
        values = values + 0.4  # rounds back down
        values[0, :5] = [-3.0, 70000.0, np.nan, 12.5, 65535.6]
    elif np.dtype(dtype).kind == "i":
        values[0, :2] = [-3, 70000]
    if dtype == "uint8":
        values = np.minimum(values, 255)
    given = values.astype(dtype)
    expected = laueproc.analyze(reader_conversion(given))
    r = laueproc.analyze(given)
    assert r.copied
    np.testing.assert_array_equal(r.peaks, expected.peaks)
    assert r.summary == expected.summary or (
        {k: v for k, v in r.summary.items() if v == v} == {k: v for k, v in expected.summary.items() if v == v})
    if np.dtype(dtype).kind == "f":
        assert r.notes and "NaN" in r.notes[0]


def test_degenerate_frames_do_not_crash():
    for frame in (np.zeros((0, 0), np.uint16), np.zeros((0, 64), np.uint16), np.zeros((64, 64), np.uint16),
                  np.full((64, 64), 500, np.uint16), np.full((32, 32), np.nan), np.ones((1, 1), np.uint16)):
        r = laueproc.analyze(frame)
        assert len(r.peaks) == 0
        assert isinstance(r.summary["status"], str)
    with pytest.raises(ValueError, match="2-D"):
        laueproc.analyze(np.zeros(100, np.uint16))
    with pytest.raises(ValueError, match="2-D"):
        laueproc.analyze(np.zeros((2, 8, 8), np.uint16))
    with pytest.raises(ValueError, match="not supported"):
        laueproc.analyze(np.zeros((8, 8), np.complex64))
    with pytest.raises(ValueError, match="not supported"):
        laueproc.analyze(np.zeros((8, 8), bool))


def test_settings_change_the_result(gnd_frame):
    frame, _ = gnd_frame
    default = laueproc.analyze(frame)
    strict = laueproc.analyze(frame, k_high=30, k_low=10)
    assert 0 < len(strict.peaks) < len(default.peaks)
    same = laueproc.analyze(frame, settings=laueproc.Settings(k_high=30, k_low=10))
    np.testing.assert_array_equal(same.peaks, strict.peaks)
    # keyword arguments override a Settings
    mixed = laueproc.analyze(frame, settings=laueproc.Settings(k_high=30, k_low=10), k_high=6, k_low=3)
    np.testing.assert_array_equal(mixed.peaks, default.peaks)


@pytest.mark.parametrize("kwargs, cli_args", [
    ({"k_low": 9}, ["--k-low", "9"]),
    ({"block": 2}, ["--block", "2"]),
    ({"percentile": 1.5}, ["--percentile", "1.5"]),
    ({"background": "median"}, ["--background", "median"]),
    ({"core_fraction": 1}, ["--core-fraction", "1"]),
    ({"group_radius": float("nan")}, ["--group-radius", "nan"]),
])
def test_bad_settings_raise_the_command_line_message(gnd_frame, kwargs, cli_args):
    frame, _ = gnd_frame
    with pytest.raises(ValueError) as error:
        laueproc.analyze(frame, **kwargs)
    assert str(error.value) == cli_error("process", "no-such-scan.h5", *cli_args)


def test_bad_setting_names_and_types(gnd_frame):
    frame, _ = gnd_frame
    with pytest.raises(ValueError, match="unknown setting 'k_hihg'"):
        laueproc.analyze(frame, k_hihg=3)
    with pytest.raises(ValueError, match="--min-pixels wants an integer"):
        laueproc.analyze(frame, min_pixels=2.5)
    with pytest.raises(ValueError, match="--flat-noise wants True or False"):
        laueproc.analyze(frame, flat_noise=1)
    with pytest.raises(ValueError, match="--k-high wants a number"):
        laueproc.analyze(frame, k_high="6")
    with pytest.raises(OSError, match="no-such-mask.pgm"):
        laueproc.analyze(frame, mask="no-such-mask.pgm")
    # numpy scalars are numbers
    r = laueproc.analyze(frame, k_high=np.float32(6), min_pixels=np.int64(4), flat_noise=np.bool_(False))
    np.testing.assert_array_equal(r.peaks, laueproc.analyze(frame).peaks)


def test_mask_file_masks_pixels(gnd_frame, tmp_path):
    frame, _ = gnd_frame
    r = laueproc.analyze(frame)
    p = r.peaks[np.argmax(r.peaks["snr"])]
    bad = np.zeros(frame.shape, np.uint8)
    y, x = int(round(p["y"])), int(round(p["x"]))
    bad[y - 8:y + 9, x - 8:x + 9] = 255
    path = tmp_path / "mask.pgm"
    path.write_bytes(b"P5\n%d %d\n255\n" % (frame.shape[1], frame.shape[0]) + bad.tobytes())
    masked = laueproc.analyze(frame, mask=path)
    d = np.hypot(masked.peaks["x"] - p["x"], masked.peaks["y"] - p["y"])
    assert d.min() > 3  # the brightest peak is gone
    far = lambda peaks: peaks[(np.abs(peaks["x"] - x) > 40) | (np.abs(peaks["y"] - y) > 40)]
    np.testing.assert_allclose(far(masked.peaks)["x"], far(r.peaks)["x"], atol=0.01)  # the others stay (noise fit moves a little)
