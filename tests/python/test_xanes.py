"""laueproc.white_line against the analytic maximum of a model spectrum."""
import numpy as np
import pytest

import laueproc


def model(energy, white_line):
    # the simulator's Co K-edge model (include/laueproc/xanes.hpp): edge 4 eV below the white line
    return 0.5 + np.arctan((energy - white_line + 4) / 1.2) / np.pi + 0.6 * np.exp(-(energy - white_line) ** 2 / (2 * 2.2 ** 2))


def true_maximum(white_line):
    fine = np.arange(white_line - 5, white_line + 5, 1e-5)
    return fine[np.argmax(model(fine, white_line))]


def test_one_spectrum_and_a_stack():
    energy = np.arange(7715.0, 7745.0, 0.5)
    wl = 7729.3
    r = laueproc.white_line(energy, model(energy, wl))
    assert r["status"] == "ok"
    assert abs(r["white_line_ev"] - true_maximum(wl)) < 0.1
    lines = np.array([[7727.0, 7728.5], [7730.2, 7731.0]])
    stack = np.stack([model(energy, w) for w in lines.ravel()], axis=1).reshape(len(energy), 2, 2)
    maps = laueproc.white_line(energy, stack, threads=2)
    assert maps["white_line_ev"].shape == (2, 2)
    expected = np.vectorize(true_maximum)(lines)
    assert np.max(np.abs(maps["white_line_ev"] - expected)) < 0.1
    assert maps["status_names"][0] == "ok" and np.all(maps["status"] == 0)


def test_bad_spectra_and_settings():
    energy = np.arange(7715.0, 7745.0, 1.0)
    mu = model(energy, 7729)
    bad = mu.copy()
    bad[3] = np.nan
    assert laueproc.white_line(energy, bad)["status"] == "nan_in_spectrum"
    assert laueproc.white_line(energy, np.zeros_like(mu))["status"] == "flat_low_signal"
    with pytest.raises(ValueError, match="order"):
        laueproc.white_line(energy, mu, order=9)
    with pytest.raises(ValueError, match="needs --normalise"):
        laueproc.white_line(energy, mu, e0=7725)
    with pytest.raises(ValueError, match="first axis"):
        laueproc.white_line(energy, mu[:-1])
    with pytest.raises(ValueError, match="unknown white_line setting"):
        laueproc.white_line(energy, mu, k_high=3)
    with pytest.raises(ValueError, match="duplicate"):
        laueproc.white_line(np.zeros(5), np.ones(5))
