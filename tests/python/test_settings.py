"""laueproc.Settings: the options of `laueproc process` by name, round-tripping through results files."""
import copy
import pickle

import pytest

import laueproc


def test_defaults_and_names():
    s = laueproc.Settings()
    d = s.to_dict()
    assert d["k_high"] == 6.0 and d["min_pixels"] == 4 and d["background"] == "block" and d["flat_noise"] is False
    assert laueproc.Settings(**d) == s
    assert repr(s) == "Settings()"
    assert repr(laueproc.Settings(k_high=8, flat_noise=True)) == "Settings(k_high=8.0, flat_noise=True)"


def test_describe_is_what_results_files_store():
    s = laueproc.Settings(k_high=7.5, flat_noise=True, background="gaussian", no_split=True, mask="m.pgm")
    described = s.describe()
    # the switch --flat-noise is stored as the setting it turns off
    assert described["threshold.local_noise"] == "false"
    assert described["threshold.k_high"] == "7.5"
    assert described["background.method"] == "gaussian"
    assert described["deblend.split"] == "false"
    assert laueproc.Settings.from_description(described) == s
    prefixed = {"settings." + k: v for k, v in described.items()}
    prefixed["settings.scan.input"] = "scan.h5"  # scan options are not pipeline settings
    assert laueproc.Settings.from_description(prefixed) == s
    with pytest.raises(ValueError, match="threshold.k_high"):
        laueproc.Settings.from_description({"threshold.k_high": "six"})


def test_exact_values_survive_the_round_trip():
    s = laueproc.Settings(percentile=0.1 + 0.2, k_low=1 / 3)
    back = laueproc.Settings.from_description(s.describe())
    assert back.percentile == 0.1 + 0.2 and back.k_low == 1 / 3


def test_attributes_replace_copy_pickle():
    s = laueproc.Settings()
    s.k_high = 9
    assert s.k_high == 9.0
    t = s.replace(k_low=4)
    assert t.k_low == 4.0 and s.k_low == 3.0 and t.k_high == 9.0
    assert pickle.loads(pickle.dumps(t)) == t
    assert copy.deepcopy(t) == t
    s.k_low = 20
    with pytest.raises(ValueError, match="--k-low must not exceed --k-high"):
        s.validate()
    with pytest.raises(ValueError, match="--k-low must not exceed --k-high"):
        laueproc.Settings(k_low=20)
    with pytest.raises(ValueError, match="unknown setting"):
        laueproc.Settings(threshold=3)
    with pytest.raises(TypeError):
        laueproc.analyze([[1, 2], [3, 4]], settings={"k_high": 3})


def test_every_cli_option_is_a_setting():
    import os
    import subprocess
    binary = os.environ.get("LAUEPROC_BINARY")
    if not binary or not os.access(binary, os.X_OK):
        pytest.skip("the laueproc program is not built here")
    help_text = subprocess.run([binary, "process", "--help"], capture_output=True, text=True, check=True).stdout
    for name in laueproc.Settings().to_dict():
        assert "--" + name.replace("_", "-") in help_text
