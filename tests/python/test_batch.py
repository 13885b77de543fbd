"""laueproc.analyze_batch: the same rows as analyze, for any thread count, without copies."""
import numpy as np
import pytest

import laueproc


@pytest.fixture(scope="module")
def stack():
    frames = [laueproc.simulate_frame(s, seed=i, size=256)[0]
              for i, s in enumerate(["defect_free", "gnd", "tilt_boundary", "mixed", "stacking"])]
    return np.stack(frames)


def test_batch_equals_single_frames(stack):
    singles = [laueproc.analyze(f) for f in stack]
    before = laueproc._core._frame_copies()
    for threads in (1, 2, 3):
        batch = laueproc.analyze_batch(stack, threads=threads, backend="cpu")
        assert len(batch) == len(stack)
        for i, (b, s) in enumerate(zip(batch, singles)):
            np.testing.assert_array_equal(b.peaks, s.peaks)
            assert b.summary["frame"] == i
            assert {k: v for k, v in b.summary.items() if k != "frame" and v == v} == \
                {k: v for k, v in s.summary.items() if k != "frame" and v == v}
            assert not b.copied and b._input_address == stack[i].__array_interface__["data"][0]
    assert laueproc._core._frame_copies() == before
    scenarios = [b.summary["scenario"] for b in laueproc.analyze_batch(stack)]
    assert scenarios[0] == "defect_free" and scenarios[1] == "gnd"


def test_batch_inputs(stack):
    as_list = laueproc.analyze_batch([stack[0], stack[1][:200, :180]], threads=2)
    np.testing.assert_array_equal(as_list[0].peaks, laueproc.analyze(stack[0]).peaks)
    np.testing.assert_array_equal(as_list[1].peaks, laueproc.analyze(stack[1][:200, :180]).peaks)
    strided = laueproc.analyze_batch(stack[::2], threads=2)
    np.testing.assert_array_equal(strided[1].peaks, laueproc.analyze(stack[2]).peaks)
    floats = laueproc.analyze_batch(stack.astype(np.float32), threads=2, k_high=8)
    np.testing.assert_array_equal(floats[3].peaks, laueproc.analyze(stack[3], k_high=8).peaks)
    assert laueproc.analyze_batch(np.zeros((0, 16, 16), np.uint16)) == []
    with pytest.raises(ValueError, match="3-D"):
        laueproc.analyze_batch(np.zeros((16, 16), np.uint16))
    with pytest.raises(ValueError, match="--threads"):
        laueproc.analyze_batch(stack, threads=-1)
