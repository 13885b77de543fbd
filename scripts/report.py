#!/usr/bin/python3
"""laueproc report: one self-contained HTML page (PNG figures embedded as base64 data URIs, no
external resources) plus the same PNGs in a folder, from a `laueproc process` results file and,
optionally, a `laueproc xanes` results file and a `laueproc correlate` file.

Usually run through `laueproc report` (which checks the dependencies); can be run directly:
    /usr/bin/python3 scripts/report.py --process results.h5 [--xanes xanes.h5]
        [--correlation correlation.h5] [--out report.html] [--figures DIR] [--frames-per-scenario 3]

Exit codes: 0 done, 2 bad input (one line on stderr naming the file and the problem), 1 other.
Layouts read: docs/output.md (process results), notes of the XANES/correlation contract
(docs/report.md lists what is used). Every optional input and every optional dataset may be
absent: the section then says so instead of failing.
"""

import argparse
import base64
import datetime
import html
import io
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap, PowerNorm  # noqa: E402
from matplotlib.patches import Ellipse, Patch  # noqa: E402

SCENARIO_NAMES = ["defect_free", "gnd", "tilt_boundary", "mixed", "stacking", "unknown"]
# Colour-blind-safe categorical colours (Okabe-Ito), one per scenario code.
SCENARIO_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#999999"]
CROP_PX = 41
PEAKS_PER_FRAME = 4
DPI = 110


class InputProblem(Exception):
    """Bad input: reported as one line `FILE: problem`, exit code 2."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")


class OutputProblem(InputProblem):
    """An output that cannot be written (disk full, read-only folder): exit code 2 too, and never
    turned into a note by optional_section."""


# ---------------------------------------------------------------- small helpers

def write_complete(path, data, what):
    """Writes bytes under a temporary name, synced, then renamed onto `path` (as every laueproc
    output): a failure (disk full) never leaves a truncated file under the name, nor the
    temporary one."""
    tmp = f"{path}.partial-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputProblem(path, f"{what}: {e.strerror}")


def text(value):
    """HDF5 attribute value -> readable one-line string."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            return ", ".join(text(v) for v in value.ravel())
        return np.array2string(value, threshold=20, separator=", ")
    if isinstance(value, (np.generic,)):
        return str(value.item())
    return str(value)


def open_h5(path, what):
    if not os.path.exists(path):
        raise InputProblem(path, f"no such file ({what})")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise InputProblem(path, f"not a readable HDF5 file ({what}): {str(e).splitlines()[0]}")


def edges_from_centres(c, fallback_step=1.0):
    """Cell edges for pcolormesh from centre coordinates; NaN centres (empty columns) filled
    linearly from the index so an empty column does not break the axis."""
    c = np.asarray(c, dtype=float)
    n = c.size
    if n == 0:
        return np.array([0.0, 1.0])
    idx = np.arange(n, dtype=float)
    good = np.isfinite(c)
    if good.sum() == 0:
        c = idx.copy()
    elif good.sum() == 1:
        c = c[good][0] + (idx - idx[good][0]) * fallback_step
    else:
        c = np.interp(idx, idx[good], c[good], left=np.nan, right=np.nan)
        slope = np.polyfit(idx[good], np.asarray(c)[good], 1)[0]
        first, last = np.flatnonzero(np.isfinite(c))[[0, -1]]
        c[:first] = c[first] + (idx[:first] - first) * slope
        c[last + 1:] = c[last] + (idx[last + 1:] - last) * slope
    if n == 1:
        return np.array([c[0] - fallback_step / 2, c[0] + fallback_step / 2])
    mid = (c[:-1] + c[1:]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


class Figures:
    """Saves each figure as PNG into the folder and keeps its bytes for embedding."""

    def __init__(self, folder):
        self.folder = folder
        self.items = {}  # name -> (png bytes, alt, caption)

    def save(self, fig, name, alt, caption=""):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
        plt.close(fig)
        data = buf.getvalue()
        write_complete(os.path.join(self.folder, name + ".png"), data, "cannot write the figure")
        self.items[name] = (data, alt, caption)
        return name

    def html(self, name):
        data, alt, caption = self.items[name]
        b64 = base64.b64encode(data).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        return (f'<figure><img src="data:image/png;base64,{b64}" alt="{html.escape(alt, quote=True)}">'
                f"{cap}</figure>")


# ---------------------------------------------------------------- process results

def read_map(results, name):
    """(values, x_um, y_um) of /maps/<name>, or None when absent."""
    group = results.get(f"/maps/{name}")
    if group is None or name not in group:
        return None
    values = group[name][()]
    nx = values.shape[1] if values.ndim == 2 else 0
    ny = values.shape[0] if values.ndim == 2 else 0
    x = group["x_um"][()] if "x_um" in group else np.arange(nx, dtype=float)
    y = group["y_um"][()] if "y_um" in group else np.arange(ny, dtype=float)
    return values, x, y, group


def map_axes(ax, x, y, title):
    ax.set_title(title)
    ax.set_xlabel("sample X (um)")
    ax.set_ylabel("sample Y (um)")
    ax.set_aspect("equal")


def plot_value_map(figs, results, name, title, unit, cmap="viridis"):
    m = read_map(results, name)
    if m is None:
        return None
    values, x, y, _ = m
    values = np.ma.masked_invalid(values.astype(float))
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    colormap = plt.get_cmap(cmap).copy()
    colormap.set_bad(alpha=0.0)  # no frame: blank
    mesh = ax.pcolormesh(edges_from_centres(x), edges_from_centres(y), values, cmap=colormap, shading="flat")
    fig.colorbar(mesh, ax=ax, label=unit)
    map_axes(ax, x, y, title)
    return figs.save(fig, f"map_{name}", f"{title} over the raster, colour scale in {unit}; blank cells had no frame")


def plot_scenario_map(figs, results):
    m = read_map(results, "scenario")
    if m is None:
        return None
    values, x, y, group = m
    names = SCENARIO_NAMES
    if "scenario_names" in group.attrs:
        names = [text(v) for v in np.atleast_1d(group.attrs["scenario_names"])]
    n = len(names)
    colours = [SCENARIO_COLOURS[i % len(SCENARIO_COLOURS)] for i in range(n)]
    cmap = ListedColormap(colours)
    cmap.set_bad(alpha=0.0)
    norm = BoundaryNorm(np.arange(-0.5, n + 0.5), n)
    masked = np.ma.masked_where(values < 0, values.astype(float))
    fig, ax = plt.subplots(figsize=(6.2, 4.6))
    ax.pcolormesh(edges_from_centres(x), edges_from_centres(y), masked, cmap=cmap, norm=norm, shading="flat")
    present = sorted(set(int(v) for v in np.unique(values) if 0 <= v < n))
    handles = [Patch(facecolor=colours[i], edgecolor="k", label=names[i]) for i in present]
    if handles:
        ax.legend(handles=handles, title="scenario", loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    map_axes(ax, x, y, "Defect scenario per raster point")
    return figs.save(fig, "map_scenario", "Map of the defect scenario per raster point, one colour per scenario: "
                     + ", ".join(names[i] for i in present))


def read_frames(results):
    if "frames" not in results:
        return None
    return results["frames"][()]


def scenario_codes(frames):
    codes = frames["scenario"]
    return np.asarray(codes).astype(int)


def plot_se_histogram(figs, frames):
    se = np.asarray(frames["se"], dtype=float)
    se = se[np.isfinite(se)]
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    if se.size:
        ax.hist(se, bins=min(60, max(10, int(np.sqrt(se.size)) * 2)), color="#0072B2", edgecolor="white")
    else:
        ax.text(0.5, 0.5, "no frame with a finite SE", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(f"Streaking extent over all frames (n = {se.size})")
    ax.set_xlabel("SE (unit 1 = round reference spot, dimensionless)")
    ax.set_ylabel("frames")
    return figs.save(fig, "hist_se", f"Histogram of the streaking extent of {se.size} frames")


def plot_scenario_counts(figs, frames):
    codes = scenario_codes(frames)
    counts = [int(np.sum(codes == i)) for i in range(len(SCENARIO_NAMES))]
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    bars = ax.bar(SCENARIO_NAMES, counts, color=SCENARIO_COLOURS, edgecolor="k")
    for bar, c in zip(bars, counts):
        ax.annotate(str(c), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom")
    ax.set_title(f"Frames per scenario (n = {codes.size})")
    ax.set_ylabel("frames")
    ax.set_xlabel("scenario")
    ax.tick_params(axis="x", rotation=30)
    alt = "Bar chart of frames per scenario: " + ", ".join(f"{n} {c}" for n, c in zip(SCENARIO_NAMES, counts))
    return figs.save(fig, "scenario_counts", alt)


# ---------------------------------------------------------------- frames of the scan (gallery)

class ScanReader:
    """Reads frame i of the scan named in the results file (a stack, or one file per frame)."""

    def __init__(self, results_path, results):
        files = text(results.attrs.get("input_files", "")).split("\n")
        self.files = [f for f in files if f]
        self.dataset = text(results.attrs.get("dataset", "/entry/data/data"))
        if not self.files:
            raise RuntimeError("the results file names no input_files")
        base = os.path.dirname(os.path.abspath(results_path))
        self.files = [self._resolve(f, base) for f in self.files]
        self._offsets = None

    @staticmethod
    def _resolve(path, base):
        # Relative paths were relative to where `process` ran: try here, then beside the results.
        if os.path.isabs(path) or os.path.exists(path):
            return path
        beside = os.path.join(base, path)
        return beside if os.path.exists(beside) else path

    def _read(self, path, index):
        if not os.path.exists(path):
            raise RuntimeError(f"{path}: no such file")
        with h5py.File(path, "r") as f:
            if self.dataset not in f:
                raise RuntimeError(f"{path}: no dataset {self.dataset}")
            d = f[self.dataset]
            if d.ndim == 2:
                return d[()].astype(float)
            if d.ndim == 3:
                return d[index].astype(float)
            raise RuntimeError(f"{path}: {self.dataset} has {d.ndim} dimensions")

    def frame(self, i):
        if len(self.files) == 1:
            return self._read(self.files[0], i)
        # Per-frame files hold one 2-D frame each: frame i is file i (no need to open the others).
        if self._offsets is None:
            with h5py.File(self.files[0], "r") as f:
                ndim = f[self.dataset].ndim if self.dataset in f else 2
            if ndim == 2:
                self._offsets = "one-per-file"
            else:
                counts = []
                for p in self.files:
                    with h5py.File(p, "r") as f:
                        counts.append(f[self.dataset].shape[0])
                self._offsets = np.concatenate([[0], np.cumsum(counts)])
        if isinstance(self._offsets, str):
            if i >= len(self.files):
                raise RuntimeError(f"frame {i} beyond the {len(self.files)} input files")
            return self._read(self.files[i], 0)
        k = int(np.searchsorted(self._offsets, i, side="right") - 1)
        return self._read(self.files[k], i - int(self._offsets[k]))


def peaks_of_frame(peaks, frame):
    """Rows of /peaks for one frame. Rows are written in frame order (docs/output.md), so a binary
    search on single rows reads only a few chunks; falls back to a full column read otherwise."""
    n = peaks.shape[0]
    if n == 0:
        return peaks[0:0]

    def frame_at(k):
        return int(peaks[k]["frame"])

    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if frame_at(mid) < frame:
            lo = mid + 1
        else:
            hi = mid
    start = lo
    lo, hi = start, n
    while lo < hi:
        mid = (lo + hi) // 2
        if frame_at(mid) <= frame:
            lo = mid + 1
        else:
            hi = mid
    rows = peaks[start:lo]
    if rows.size and np.all(rows["frame"] == frame):
        return rows
    column = peaks.fields("frame")[()]
    return peaks[np.flatnonzero(column == frame)] if np.any(column == frame) else peaks[0:0]


def brightest_peaks(rows, count):
    if rows.size == 0:
        return rows
    ok = (rows["saturated"] == 0) if "saturated" in rows.dtype.names else np.ones(rows.size, bool)
    if "edge" in rows.dtype.names:
        ok &= rows["edge"] == 0
    ok &= np.isfinite(rows["a"]) & np.isfinite(rows["b"])
    chosen = rows[ok]
    order = np.argsort(-chosen["peak_value"], kind="stable")
    return chosen[order[:count]]


def crop(image, x, y, size):
    """size x size crop centred on (x, y) (x = column), padded with NaN at the frame edge;
    returns the crop and its extent in frame pixel coordinates for imshow(origin='upper')."""
    half = size // 2
    cx, cy = int(round(x)), int(round(y))
    out = np.full((size, size), np.nan)
    r0, c0 = cy - half, cx - half
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + size, image.shape[0]), min(c0 + size, image.shape[1])
    if re > rs and ce > cs:
        out[rs - r0:re - r0, cs - c0:ce - c0] = image[rs:re, cs:ce]
    extent = (c0 - 0.5, c0 + size - 0.5, r0 + size - 0.5, r0 - 0.5)
    return out, extent


def peak_ellipse(peak, **style):
    """The fitted ellipse in frame pixel coordinates (x = column, y = row). theta is measured from
    +x toward +y in those coordinates; matplotlib's Ellipse angle rotates from +x toward +y in data
    coordinates too, so angle = theta whatever way the y axis is shown (an inverted axis flips the
    picture, not the geometry). check_ellipse_convention() verifies this."""
    return Ellipse((float(peak["x"]), float(peak["y"])), 2 * float(peak["a"]), 2 * float(peak["b"]),
                   angle=float(peak["theta_deg"]), fill=False, **style)


def check_ellipse_convention():
    """Synthetic check: a Gaussian elongated along theta, rendered in pixels (row = y) and its
    second moments (the program's definition) -> the ellipse's major-axis end must lie along the
    brightest direction of the image. Raises AssertionError when the drawing would be wrong."""
    theta = 30.0
    ny, nx = 41, 41
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    cx, cy = 20.0, 20.0
    t = np.radians(theta)
    u = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
    v = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
    img = np.exp(-0.5 * ((u / 6.0) ** 2 + (v / 2.0) ** 2))
    w = img / img.sum()
    mxx = np.sum(w * (xx - cx) ** 2)
    myy = np.sum(w * (yy - cy) ** 2)
    mxy = np.sum(w * (xx - cx) * (yy - cy))
    fitted = np.degrees(0.5 * np.arctan2(2 * mxy, mxx - myy))
    peak = {"x": cx, "y": cy, "a": 12.0, "b": 4.0, "theta_deg": fitted}
    e = peak_ellipse(peak)
    t_patch = e.get_patch_transform()
    centre = t_patch.transform([(0.0, 0.0)])[0]
    major = t_patch.transform([(1.0, 0.0)])[0] - centre  # unit-circle (1, 0) -> end of the major axis
    major /= np.hypot(*major)
    along_xy = centre + 6.0 * major
    across_xy = centre + 6.0 * np.array([-major[1], major[0]])
    along = img[int(round(along_xy[1])), int(round(along_xy[0]))]  # image[row = y, column = x]
    across = img[int(round(across_xy[1])), int(round(across_xy[0]))]
    assert abs(fitted - theta) < 0.5 and along > 5 * across, "ellipse convention"


def plot_gallery(figs, results, frames, frames_per_scenario, results_path):
    """One figure per scenario present: its first frames, crops around the brightest unsaturated
    peaks with the fitted ellipses. Returns (figure names, note)."""
    if frames is None or frames_per_scenario <= 0:
        return [], "no gallery asked for" if frames_per_scenario <= 0 else "the results file has no /frames"
    if "peaks" not in results:
        return [], "the results file has no /peaks table"
    try:
        reader = ScanReader(results_path, results)
    except Exception as e:  # noqa: BLE001 - any reason: the gallery says so
        return [], f"scan frames not readable: {e}"
    codes = scenario_codes(frames)
    statuses = [text(s) for s in frames["status"]] if "status" in frames.dtype.names else ["ok"] * codes.size
    peaks = results["peaks"]
    names = []
    for code, scen in enumerate(SCENARIO_NAMES):
        picked = [int(frames["frame"][k]) for k in np.flatnonzero(codes == code) if statuses[k] == "ok"]
        picked = picked[:frames_per_scenario]
        if not picked:
            continue
        rows_cols = len(picked), PEAKS_PER_FRAME
        fig, axes = plt.subplots(*rows_cols, figsize=(2.4 * rows_cols[1], 2.5 * rows_cols[0]), squeeze=False)
        for r, frame in enumerate(picked):
            try:
                image = reader.frame(frame)
            except Exception as e:  # noqa: BLE001
                plt.close(fig)
                return names, f"scan frames not readable: {e}"
            chosen = brightest_peaks(peaks_of_frame(peaks, frame), PEAKS_PER_FRAME)
            for c in range(PEAKS_PER_FRAME):
                ax = axes[r][c]
                if c >= chosen.size:
                    ax.axis("off")
                    continue
                p = chosen[c]
                patch, extent = crop(image, p["x"], p["y"], CROP_PX)
                finite = patch[np.isfinite(patch)]
                lo = float(np.percentile(finite, 5)) if finite.size else 0.0
                hi = float(finite.max()) if finite.size else 1.0
                ax.imshow(np.clip(patch, lo, None), origin="upper", extent=extent, cmap="magma",
                          norm=PowerNorm(0.5, vmin=lo, vmax=max(hi, lo + 1e-9)), interpolation="nearest")
                ax.add_patch(peak_ellipse(p, edgecolor="cyan", linewidth=1.2))
                ax.plot([p["x"]], [p["y"]], "+", color="cyan", markersize=5)
                ax.set_title(f"frame {frame}, peak {int(p['peak'])}\na={p['a']:.1f} b={p['b']:.1f} px, "
                             f"θ={p['theta_deg']:.0f}°", fontsize=8)
                ax.set_xlabel("column (px)", fontsize=7)
                ax.set_ylabel("row (px)", fontsize=7)
                ax.tick_params(labelsize=6)
            if chosen.size == 0:
                axes[r][0].axis("on")
                axes[r][0].text(0.5, 0.5, f"frame {frame}:\nno unsaturated peak", ha="center", va="center",
                                transform=axes[r][0].transAxes, fontsize=8)
                axes[r][0].set_xticks([])
                axes[r][0].set_yticks([])
        fig.suptitle(f"Example peaks, scenario {scen}: {CROP_PX}x{CROP_PX} px crops, fitted ellipses "
                     f"(2a x 2b, θ from +x toward +y)", fontsize=10)
        fig.tight_layout()
        names.append(figs.save(fig, f"gallery_{scen}",
                               f"Crops of the brightest unsaturated peaks of frames {', '.join(map(str, picked))} "
                               f"(scenario {scen}) with their fitted ellipses"))
    return names, "" if names else "no frame with status ok"


# ---------------------------------------------------------------- XANES and correlation

def xanes_maps(xanes):
    g = xanes.get("/xanes")
    if g is None or "white_line_ev" not in g:
        return None
    wl = g["white_line_ev"][()].astype(float)
    if "status" in g:
        st = g["status"][()]
        wl = np.where(st == 0, wl, np.nan) if st.shape == wl.shape else wl
    particles = g["particles"][()] if "particles" in g else None
    return wl, particles


def particle_outlines(labels):
    """Pixel-exact particle outlines: segments on the pixel borders where the label changes and
    one side is inside a particle (pixel (r, c) spans c-0.5..c+0.5, r-0.5..r+0.5)."""
    padded = np.pad(labels, 1)
    segments = []
    # Vertical borders: between columns c-1 and c of the padded array.
    rows, cols = np.nonzero(padded[:, 1:] != padded[:, :-1])
    for r, c in zip(rows - 1, cols):
        segments.append([(c - 0.5, r - 0.5), (c - 0.5, r + 0.5)])
    rows, cols = np.nonzero(padded[1:, :] != padded[:-1, :])
    for r, c in zip(rows, cols - 1):
        segments.append([(c - 0.5, r - 0.5), (c + 0.5, r - 0.5)])
    return segments


def plot_white_line_map(figs, xanes_path, wl, particles):
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    cmap = plt.get_cmap("plasma").copy()
    cmap.set_bad(alpha=0.0)
    finite = wl[np.isfinite(wl)]
    vmin, vmax = (np.percentile(finite, [1, 99]) if finite.size else (None, None))
    im = ax.imshow(np.ma.masked_invalid(wl), origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                   interpolation="nearest")
    fig.colorbar(im, ax=ax, label="white-line energy (eV)")
    n_particles = 0
    if particles is not None and particles.shape == wl.shape:
        labels = np.unique(particles[particles > 0])
        n_particles = labels.size
        ax.add_collection(LineCollection(particle_outlines(particles), colors="white", linewidths=1.2))
        for lab in labels:
            r, c = np.argwhere(particles == lab).mean(axis=0)
            ax.annotate(str(int(lab)), (c, r), color="white", fontsize=8, ha="center", va="center")
    ax.set_title("White-line energy" + (f" and {n_particles} particle outlines" if n_particles else ""))
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")
    return figs.save(fig, "map_white_line", f"Map of the white-line energy in eV from {os.path.basename(xanes_path)}"
                     + (f" with the outlines of {n_particles} particles" if n_particles else ""))


def particle_histograms_from_correlation(corr):
    """{state: {particle: (se_counts, se_edges, wl_counts, wl_edges)}} from /correlation/histograms."""
    out = {}
    g = corr.get("/correlation/histograms")
    if g is None:
        return out
    for state in g:
        if not isinstance(g[state], h5py.Group):  # shared edges live beside the state groups
            continue
        for name in g[state]:
            h = g[state][name]
            if not isinstance(h, h5py.Group) or not all(k in h for k in ("se_counts", "se_edges", "wl_counts", "wl_edges")):
                continue
            try:
                k = int(name.split("_")[-1])
            except ValueError:
                continue
            out.setdefault(state, {})[k] = tuple(h[d][()] for d in ("se_counts", "se_edges", "wl_counts", "wl_edges"))
    return out


def particle_histograms_from_maps(se_map, wl, particles):
    """Same structure, computed from the SE map and the white-line map (same raster required)."""
    out = {}
    if particles is None:
        return out, "the XANES file has no /xanes/particles"
    for lab in np.unique(particles[particles > 0]):
        inside = particles == lab
        wl_v = wl[inside]
        wl_v = wl_v[np.isfinite(wl_v)]
        if se_map is not None and se_map.shape == particles.shape:
            se_v = se_map[inside]
            se_v = se_v[np.isfinite(se_v)]
        else:
            se_v = np.array([])
        se_c, se_e = np.histogram(se_v, bins=10) if se_v.size else (np.array([]), np.array([]))
        wl_c, wl_e = np.histogram(wl_v, bins=10) if wl_v.size else (np.array([]), np.array([]))
        out[int(lab)] = (se_c, se_e, wl_c, wl_e)
    note = ""
    if se_map is None or se_map.shape != particles.shape:
        note = ("SE histograms need the SE map on the XANES raster: shapes "
                f"{None if se_map is None else se_map.shape} and {particles.shape} differ")
    return {"this run": out}, note


def plot_particle_histograms(figs, hists, max_particles=8):
    names = []
    for state, per in hists.items():
        labels = sorted(per)[:max_particles]
        if not labels:
            continue
        fig, axes = plt.subplots(2, len(labels), figsize=(2.6 * len(labels) + 0.5, 5.0), squeeze=False)
        for j, lab in enumerate(labels):
            se_c, se_e, wl_c, wl_e = (np.asarray(a, dtype=float) for a in per[lab])
            for row, (counts, edges, colour, unit) in enumerate(
                    ((se_c, se_e, "#0072B2", "SE (dimensionless)"), (wl_c, wl_e, "#D55E00", "white line (eV)"))):
                ax = axes[row][j]
                if counts.size and edges.size == counts.size + 1:
                    ax.stairs(counts, edges, fill=True, color=colour)
                else:
                    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
                ax.set_xlabel(unit, fontsize=8)
                ax.set_ylabel("pixels", fontsize=8)
                ax.tick_params(labelsize=7)
                if row == 0:
                    ax.set_title(f"particle {lab}", fontsize=9)
        fig.suptitle(f"Per-particle histograms of SE and white-line energy ({state})", fontsize=10)
        fig.tight_layout()
        safe = "".join(ch if ch.isalnum() else "_" for ch in state)
        names.append(figs.save(fig, f"particle_histograms_{safe}",
                               f"Histograms of SE and white-line energy for particles {', '.join(map(str, labels))} "
                               f"({state})"))
    return names


def plot_correlation_scatter(figs, corr):
    g = corr.get("/correlation/particles")
    if g is None:
        return None, "the correlation file has no /correlation/particles"
    rows = g[()]
    if rows.size == 0:
        return None, "the correlation table is empty"
    states = [text(s) for s in rows["state"]]
    fig, ax = plt.subplots(figsize=(6.0, 4.6))
    colours = plt.get_cmap("tab10")
    for k, state in enumerate(dict.fromkeys(states)):
        sel = np.array([s == state for s in states])
        se = np.asarray(rows["se_mean"][sel], float)
        wl = np.asarray(rows["wl_mean_ev"][sel], float)
        colour = colours(k % 10)
        label = f"{state} (n={sel.sum()})"
        a = corr.get(f"/correlation/across/{state}")
        if a is not None:
            r, rho = a.attrs.get("pearson_r", np.nan), a.attrs.get("spearman_rho", np.nan)
            label = f"{state}: r = {float(r):.2f}, ρ = {float(rho):.2f}, n = {sel.sum()}"
            slope, icpt = a.attrs.get("slope", np.nan), a.attrs.get("intercept", np.nan)
            ok = np.isfinite(se)
            if np.isfinite(slope) and np.isfinite(icpt) and ok.any():
                xs = np.linspace(se[ok].min(), se[ok].max(), 50)
                ax.plot(xs, float(icpt) + float(slope) * xs, "-", color=colour, linewidth=1.2,
                        label=f"{state} fit: {float(slope):.3g} eV per SE unit")
        ax.scatter(se, wl, color=colour, edgecolor="k", s=36, label=label, zorder=3)
    ax.set_title("Particle mean SE vs mean white-line energy")
    ax.set_xlabel("mean SE per particle (dimensionless)")
    ax.set_ylabel("mean white-line energy (eV)")
    ax.legend(fontsize=8)
    return figs.save(fig, "scatter_se_white_line",
                     "Scatter plot of particle mean SE against mean white-line energy with least-squares fit lines; "
                     "legend gives Pearson r and Spearman rho per state"), ""


# ---------------------------------------------------------------- HTML

CSS = """body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:left;vertical-align:top}th{background:#f0f0f0}figure{display:inline-block;margin:.4em;vertical-align:top}
img{max-width:100%}figcaption{font-size:.85em;color:#555}.note{color:#8a4b00}code{background:#f4f4f4}"""

# Marks the page when every image decoded: headless browsers show it in the dumped DOM.
CHECK_SCRIPT = """<script>
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
  document.body.setAttribute('data-image-check',
      (ok === imgs.length ? 'images-ok ' : 'images-broken ') + ok + '/' + imgs.length);
});
</script>"""


def attr_table(title, attrs):
    rows = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(text(v))}</td></tr>"
                   for k, v in sorted(attrs.items()))
    return f"<h3>{html.escape(title)}</h3><table><tr><th>attribute</th><th>value</th></tr>{rows}</table>"


def optional_section(what, build):
    """An optional input's section: a problem in it becomes a note (and a warning), not a failure."""
    try:
        return build()
    except OutputProblem:
        raise
    except Exception as e:  # noqa: BLE001
        print(f"laueproc report: warning: {what} section left out: {type(e).__name__}: {e}", file=sys.stderr)
        return f'<p class="note">{html.escape(what)} section left out: {html.escape(str(e))}</p>'


def xanes_section(figs, results, xanes, corr, xanes_path):
    parts = []
    maps = xanes_maps(xanes)
    if maps is None:
        return '<p class="note">The XANES file has no /xanes/white_line_ev.</p>'
    wl, particles = maps
    parts.append(figs.html(plot_white_line_map(figs, xanes_path, wl, particles)))
    hist_note = ""
    hists = particle_histograms_from_correlation(corr) if corr is not None else {}
    if not hists:
        se = read_map(results, "se")
        hists, hist_note = particle_histograms_from_maps(None if se is None else se[0].astype(float), wl, particles)
    parts.extend(figs.html(n) for n in plot_particle_histograms(figs, hists))
    if hist_note:
        parts.append(f'<p class="note">{html.escape(hist_note)}</p>')
    return "".join(parts)


def correlation_section(figs, corr):
    name, note = plot_correlation_scatter(figs, corr)
    body = figs.html(name) if name else f'<p class="note">{html.escape(note)}</p>'
    across = corr.get("/correlation/across")
    if across is not None and len(across):
        keys = ["n", "pearson_r", "spearman_rho", "slope", "slope_stderr", "intercept", "intercept_stderr"]
        head = "".join(f"<th>{k}</th>" for k in ["state"] + keys)
        rows = "".join("<tr><td>" + html.escape(s) + "</td>" + "".join(
            f"<td>{html.escape(text(across[s].attrs.get(k, '')))}</td>" for k in keys) + "</tr>" for s in across)
        body += ("<h3>Across particles (wl_mean_ev = intercept + slope * se_mean)</h3>"
                 f"<table><tr>{head}</tr>{rows}</table>")
    return body


def plot_ipf_map(figs, source):
    m = read_map(source, "ipf")
    if m is None:
        return None
    rgb, x, y, _ = m
    rgb = np.nan_to_num(np.clip(rgb.astype(float), 0.0, 1.0), nan=1.0)  # no crystal: white
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    ex, ey = edges_from_centres(x), edges_from_centres(y)
    ax.imshow(rgb, origin="lower", extent=(ex[0], ex[-1], ey[0], ey[-1]), interpolation="nearest")
    map_axes(ax, x, y, "Inverse pole figure (beam direction)")
    return figs.save(fig, "map_ipf", "inverse-pole-figure colour of the incident beam direction in each point's main "
                     "crystal; white: no crystal indexed",
                     "cubic: red (001), green (101), blue (111); hexagonal axes: red (0001), green (2-1-10), "
                     "blue (10-10)")


def index_section(figs, source, results):
    """Crystals per frame (the single-crystal mask), misorientation, KAM, IPF, indexing quality."""
    parts = []
    for name, title, unit, cmap in (("n_grains", "Crystals indexed per frame", "crystals", "viridis"),
                                    ("misorientation_deg", "Misorientation to the particle mean", "deg", "magma"),
                                    ("kam_deg", "Kernel average misorientation (KAM)", "deg", "inferno")):
        fig_name = plot_value_map(figs, source, name, title, unit, cmap)
        if fig_name:
            parts.append(figs.html(fig_name))
    ipf = plot_ipf_map(figs, source)
    if ipf:
        parts.append(figs.html(ipf))
    grains = source.get("/index/grains")
    if grains is not None and len(grains):
        g = grains[()]
        counts = {}
        for frame in np.unique(g["frame"]):
            n = int(np.sum(g["frame"] == frame))
            counts[n] = counts.get(n, 0) + 1
        n_frames = None
        if results is not None and "frames" in results:
            n_frames = len(results["frames"])
        rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in sorted(counts.items()))
        if n_frames is not None:
            rows = f"<tr><td>0</td><td>{n_frames - sum(counts.values())}</td></tr>" + rows
        main = g[g["grain"] == 0]
        parts.append("<h3>Crystals per frame</h3><table><tr><th>crystals</th><th>frames</th></tr>" + rows + "</table>")
        parts.append(f"<p>Main crystals: median {np.median(main['n_indexed']):.0f} spots indexed of "
                     f"{np.median(main['n_peaks']):.0f}, mean deviation {np.nanmedian(main['mean_dev_px']):.3f} px (median "
                     f"over frames). Frames with exactly one crystal form the single-crystal mask "
                     f"(<code>correlate --single-crystal-only</code>).</p>")
    elif grains is not None:
        parts.append('<p class="note">No crystal was indexed in any frame.</p>')
    if not parts:
        return '<p class="note">No indexing maps (/maps/n_grains ...) in this file: run process --index or laueproc index.</p>'
    return "".join(parts)


def main(argv):
    parser = argparse.ArgumentParser(prog="laueproc report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--process", required=True, help="results file of laueproc process")
    parser.add_argument("--xanes", help="results file of laueproc xanes (white-line map, particles)")
    parser.add_argument("--correlation", help="file of laueproc correlate")
    parser.add_argument("--index", help="index file of laueproc index (default: the results file's own /index)")
    parser.add_argument("--out", default="report.html", help="HTML file to write")
    parser.add_argument("--figures", help="folder for the PNG figures (default: report_figures/ beside the HTML)")
    parser.add_argument("--frames-per-scenario", type=int, default=3, help="gallery frames per scenario")
    parser.add_argument("--program-version", default="", help=argparse.SUPPRESS)
    parser.add_argument("--program-commit", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    check_ellipse_convention()
    out = args.out
    figures_dir = args.figures or os.path.join(os.path.dirname(os.path.abspath(out)), "report_figures")
    for folder in (figures_dir, os.path.dirname(os.path.abspath(out))):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise OutputProblem(folder, f"cannot create the folder: {e.strerror}")
    figs = Figures(figures_dir)

    results = open_h5(args.process, "process results")
    if "maps" not in results and "frames" not in results:
        raise InputProblem(args.process, "not a laueproc process results file (no /maps, no /frames)")
    xanes = open_h5(args.xanes, "XANES results") if args.xanes else None
    corr = open_h5(args.correlation, "correlation file") if args.correlation else None
    index = open_h5(args.index, "index file") if args.index else (results if "index" in results else None)

    sections = []  # (title, html)
    notes = []

    # Maps.
    parts = []
    for name, title, unit, cmap in (("se", "Streaking extent (SE)", "SE (dimensionless)", "viridis"),
                                    ("n_peaks", "Peaks per frame", "peaks", "cividis"),
                                    ("background", "Mean background", "counts", "gray")):
        fig_name = plot_value_map(figs, results, name, title, unit, cmap)
        if fig_name:
            parts.append(figs.html(fig_name))
        else:
            parts.append(f'<p class="note">/maps/{name} is missing from the results file.</p>')
    scen = plot_scenario_map(figs, results)
    parts.insert(1, figs.html(scen) if scen else '<p class="note">/maps/scenario is missing.</p>')
    sections.append(("Maps", "".join(parts)))

    # Statistics.
    frames = read_frames(results)
    if frames is not None and frames.size:
        sections.append(("Statistics over all frames",
                         figs.html(plot_se_histogram(figs, frames)) + figs.html(plot_scenario_counts(figs, frames))))
    else:
        sections.append(("Statistics over all frames", '<p class="note">The results file holds no frames.</p>'))

    # Gallery.
    gallery, note = plot_gallery(figs, results, frames, args.frames_per_scenario, args.process)
    body = "".join(figs.html(n) for n in gallery)
    if note:
        body = f'<p class="note">{html.escape(note)}</p>' + body
    sections.append(("Example peaks per scenario", body))

    # Indexing: crystals per frame, orientation maps.
    if index is not None:
        sections.append(("Crystal orientations (indexing)", optional_section(
            "indexing", lambda: index_section(figs, index, results))))

    # XANES.
    if xanes is not None:
        sections.append(("XANES: white line and particles", optional_section(
            "XANES", lambda: xanes_section(figs, results, xanes, corr, args.xanes))))

    # Correlation.
    if corr is not None:
        sections.append(("Correlation of SE and white line", optional_section(
            "correlation", lambda: correlation_section(figs, corr))))

    # Provenance.
    prov = attr_table(f"process results: {args.process}", dict(results.attrs))
    if xanes is not None:
        prov += attr_table(f"XANES results: {args.xanes}", dict(xanes.attrs))
        if "xanes" in xanes:
            prov += attr_table(f"XANES results: {args.xanes} /xanes", dict(xanes["xanes"].attrs))
    if index is not None and "index" in index:
        where = args.index or args.process
        attrs = dict(index.attrs) if args.index else dict(index["index"].attrs)
        prov += attr_table(f"indexing: {where}" + ("" if args.index else " /index"), attrs)
    if corr is not None:
        prov += attr_table(f"correlation: {args.correlation}", dict(corr.attrs))
        if "correlation" in corr:
            prov += attr_table(f"correlation: {args.correlation} /correlation", dict(corr["correlation"].attrs))
    sections.append(("Provenance", prov))

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    inputs = [("process", args.process), ("xanes", args.xanes), ("correlation", args.correlation), ("index", args.index)]
    inputs_html = "".join(f"<li>{k}: <code>{html.escape(os.path.abspath(v))}</code></li>" for k, v in inputs if v)
    complete = int(results.attrs.get("complete", 1)) if "complete" in results.attrs else 1
    if not complete:
        notes.append("the process results file is partial (complete = 0): the run was interrupted; resume it")
    toc = "".join(f'<li><a href="#s{i}">{html.escape(t)}</a></li>' for i, (t, _) in enumerate(sections))
    body = "".join(f'<section id="s{i}"><h2>{html.escape(t)}</h2>{h}</section>' for i, (t, h) in enumerate(sections))
    note_html = "".join(f'<p class="note">Note: {html.escape(n)}</p>' for n in notes)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>laueproc report</title>
<style>{CSS}</style></head>
<body>
<h1>laueproc report</h1>
<p>Program: laueproc report, version {html.escape(args.program_version or text(results.attrs.get('version', '?')))},
commit <code>{html.escape(args.program_commit or text(results.attrs.get('git_commit', '?')))}</code>;
written {now}. Run by <code>{html.escape(text(results.attrs.get('command_line', '?')))}</code>,
{html.escape(text(results.attrs.get('n_frames', '?')))} frames, {html.escape(text(results.attrs.get('n_peaks', '?')))} peaks.</p>
<p>Inputs:</p><ul>{inputs_html}</ul>{note_html}
<p>Figures also in <code>{html.escape(os.path.abspath(figures_dir))}</code>.</p>
<ul>{toc}</ul>
{body}
{CHECK_SCRIPT}
</body></html>
"""
    write_complete(out, page.encode("utf-8"), "cannot write the report")
    print(f"report: {out} ({len(figs.items)} figures, also in {figures_dir})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except InputProblem as e:
        print(f"laueproc report: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - one line, not a traceback
        print(f"laueproc report: error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
