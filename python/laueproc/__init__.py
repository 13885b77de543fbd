"""laueproc from Python: the same engine as the `laueproc` command (docs/python.md).

    import laueproc
    frame, truth = laueproc.simulate_frame("gnd", seed=3, size=1024)
    r = laueproc.analyze(frame, k_high=6)          # uint16 frames are read in place
    r.peaks["x"], r.summary["se"], r.summary["scenario"]

analyze / analyze_batch / process take the options of `laueproc process` as keyword arguments
spelled with '_' (k_high=6, min_pixels=4, flat_noise=True, mask="mask.pgm"), or a
laueproc.Settings. Bad settings and shapes raise ValueError, file problems OSError, with the
command's one-line messages.
"""

from ._core import (  # noqa: F401
    AnalysisResult,
    ProcessReport,
    Settings,
    __version__,
    analyze,
    analyze_batch,
    built_with_cuda,
    cuda_devices,
    git_commit,
    process,
    simulate_frame,
    simulate_scan,
    white_line,
)
from . import _core

__all__ = [
    "AnalysisResult",
    "ProcessReport",
    "Settings",
    "analyze",
    "analyze_batch",
    "process",
    "read_results",
    "simulate_frame",
    "simulate_scan",
    "white_line",
    "built_with_cuda",
    "cuda_devices",
]


def _text_columns(table):
    """The table with its fixed-length byte-string columns (status) as str columns."""
    import numpy as np

    if table.dtype.names is None or not any(table.dtype[n].kind == "S" for n in table.dtype.names):
        return table
    fields = [(n, "U%d" % table.dtype[n].itemsize if table.dtype[n].kind == "S" else table.dtype[n])
              for n in table.dtype.names]
    out = np.empty(table.shape, dtype=fields)
    for n in table.dtype.names:
        out[n] = np.char.decode(table[n], "utf-8") if table.dtype[n].kind == "S" else table[n]
    return out


def read_results(path, as_xarray=None):
    """Reads a results file of `laueproc process` (or laueproc.process).

    Returns a dict: "peaks" and "frames" (numpy structured arrays with the columns of /peaks and
    /frames; status as str, scenario as int8 codes named by "scenario_names"), "maps" (name ->
    2-D array, rows y_um, columns x_um), "x_um", "y_um", "attrs" (root attributes: provenance)
    and "settings" (a laueproc.Settings).

    as_xarray=None (default) returns an xarray.Dataset when xarray is installed: the maps as
    variables over (y_um, x_um), the /frames columns as "frames_<name>" over "frame_row" and the
    /peaks columns as "peaks_<name>" over "peak_row", provenance in .attrs (settings included).
    as_xarray=False always returns the dict; True requires xarray.
    """
    raw = _core._read_results(path)
    raw["peaks"] = _text_columns(raw["peaks"])
    raw["frames"] = _text_columns(raw["frames"])
    if as_xarray is False:
        return raw
    try:
        import xarray as xr
    except ImportError:
        if as_xarray:
            raise
        return raw
    coords = {}
    if "x_um" in raw:
        coords = {"y_um": ("y_um", raw["y_um"], {"units": "um"}), "x_um": ("x_um", raw["x_um"], {"units": "um"})}
    data = {name: (("y_um", "x_um"), values) for name, values in raw["maps"].items()}
    for table, dim in (("frames", "frame_row"), ("peaks", "peak_row")):
        for name in raw[table].dtype.names:
            data["%s_%s" % (table, name)] = ((dim,), raw[table][name])
    attrs = dict(raw["attrs"])
    attrs["scenario_names"] = list(raw["scenario_names"])
    return xr.Dataset(data_vars=data, coords=coords, attrs=attrs)
