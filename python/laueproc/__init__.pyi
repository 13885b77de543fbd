# Type stubs of the laueproc package (docs/python.md). tests/python/test_stubs.py checks them
# against the compiled module: every public name and every setting is listed here.
import os
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str
git_commit: str
built_with_cuda: bool

PathLike = Union[str, "os.PathLike[str]"]
Backend = Literal["auto", "cpu", "cuda"]
Scenario = Literal["defect_free", "gnd", "tilt_boundary", "mixed", "stacking"]

class Summary(TypedDict):
    """One row of frames.csv."""
    frame: int
    ix: int
    iy: int
    x_um: float
    y_um: float
    n_peaks: int
    se: float
    se_median: float
    scenario: str
    split_px: float
    misorientation_deg: float
    background: float
    noise: float
    status: str
    n_used: int
    split_dx: float
    split_dy: float
    pair_fraction: float
    stacking_fraction: float
    elongation: float
    has_position: bool

class Settings:
    """Settings of the Laue pipeline: the options of `laueproc process`, spelled with '_'."""
    background: str
    block: int
    percentile: float
    bg_sigma: float
    k_high: float
    k_low: float
    min_pixels: int
    flat_noise: bool
    mask: str
    no_dead_lines: bool
    keep_zeros: bool
    zero_margin: int
    no_split: bool
    min_separation: float
    prominence: float
    grow: int
    saturation: int
    core_fraction: float
    plain_centroid: bool
    r_unit: float
    snr_min: float
    deg_per_px: float
    group_radius: float
    se_gnd: float
    pair_fraction: float
    stacking_fraction: float
    min_peaks: int
    def __init__(self, **settings: Any) -> None: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def replace(self, **changes: Any) -> "Settings": ...
    def validate(self) -> None: ...
    def describe(self) -> Dict[str, str]: ...
    @staticmethod
    def from_description(described: Dict[str, str]) -> "Settings": ...
    @staticmethod
    def from_results(path: PathLike) -> "Settings": ...

class AnalysisResult:
    """What laueproc finds in one frame."""
    @property
    def peaks(self) -> np.ndarray:
        """Structured array: peak, x, y, intensity, peak_value, npix, a, b, theta_deg, n_maxima,
        saturated, mxx, myy, mxy, edge, snr (the columns of peaks.csv but frame)."""
        ...
    @property
    def summary(self) -> Summary: ...
    @property
    def copied(self) -> bool:
        """True when the frame was converted or copied before analysis (not uint16 rows in place)."""
        ...
    @property
    def notes(self) -> List[str]: ...

class ProcessReport:
    """What laueproc.process did."""
    @property
    def frames_total(self) -> int: ...
    @property
    def frames_resumed(self) -> int: ...
    @property
    def frames_processed(self) -> int: ...
    @property
    def frames_failed(self) -> int: ...
    @property
    def peaks(self) -> int: ...
    @property
    def seconds(self) -> float: ...
    @property
    def backend(self) -> str: ...
    @property
    def failures(self) -> List[str]: ...
    @property
    def out(self) -> str: ...
    @property
    def csv(self) -> str: ...

def analyze(frame: npt.ArrayLike, *, settings: Optional[Settings] = None, **kwargs: Any) -> AnalysisResult:
    """Finds and measures the peaks of one 2-D frame exactly as `laueproc process` does."""
    ...

def analyze_batch(frames: Union[npt.ArrayLike, Sequence[npt.ArrayLike]], *, threads: int = 0,
                  backend: Backend = "auto", settings: Optional[Settings] = None,
                  **kwargs: Any) -> List[AnalysisResult]:
    """Analyses a 3-D stack (or a list of 2-D frames) on worker threads without the GIL."""
    ...

def process(scan: PathLike, *, out: PathLike = "results.h5", csv: Optional[PathLike] = None, resume: bool = False,
            progress: Optional[Callable[[int, int], Any]] = None, threads: int = 0,
            grid: Union[None, str, Tuple[int, int]] = None, dataset: Optional[str] = None,
            backend: Backend = "auto", settings: Optional[Settings] = None, **kwargs: Any) -> ProcessReport:
    """Runs `laueproc process` on a scan; Ctrl-C stops after the written frames (resume=True continues)."""
    ...

def read_results(path: PathLike, as_xarray: Optional[bool] = None) -> Any:
    """A results file as an xarray.Dataset (when installed) or a dict of numpy arrays."""
    ...

def simulate_frame(scenario: Optional[Scenario] = None, seed: int = 1,
                   size: Union[int, Tuple[int, int]] = 2048) -> Tuple[np.ndarray, Dict[str, Any]]:
    """One synthetic Laue frame (uint16) and its ground truth."""
    ...

def simulate_scan(out: PathLike, *, grid: Tuple[int, int] = (5, 5), size: int = 512, seed: int = 1,
                  scenario: Optional[Scenario] = None, layout: Literal["stack", "files"] = "stack",
                  compression: Literal["none", "gzip", "bitshuffle"] = "none", threads: int = 0) -> Dict[str, Any]:
    """Writes a synthetic scan with ground truth, as `laueproc simulate`."""
    ...

def white_line(energy: npt.ArrayLike, mu: npt.ArrayLike, **settings: Any) -> Dict[str, Any]:
    """White-line energy of one spectrum or of a stack (energies along mu's first axis)."""
    ...

def cuda_devices() -> int:
    """CUDA devices that answer (0 without a GPU or without CUDA)."""
    ...
