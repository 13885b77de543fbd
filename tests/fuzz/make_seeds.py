#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): small valid inputs
the fuzzer mutates. Run from anywhere: /usr/bin/python3 tests/fuzz/make_seeds.py
Needs python3-h5py, numpy and Debian's HDF5 filter plugins (bitshuffle); the seeds are committed,
so this only runs when they change. Inputs the fuzzer found crashes with are kept beside the
seeds as regression-* files (every smoke run replays the whole folder)."""
import os
import zlib

import h5py
import numpy as np

os.environ.setdefault("HDF5_PLUGIN_PATH", "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins")
HERE = os.path.dirname(os.path.abspath(__file__))
BITSHUFFLE = 32008


def out(target, name):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, name)


def pattern(n, ny, nx, dtype=np.uint16):
    k, y, x = np.meshgrid(np.arange(n), np.arange(ny), np.arange(nx), indexing="ij")
    v = (100 + 7 * k + 3 * y + x) % 4000
    v[:, ny // 2, nx // 2] = 30000  # a spot
    return v.astype(dtype)


def h5_files():
    t = "h5_file"
    with h5py.File(out(t, "stack_gzip.h5"), "w", libver="earliest") as f:
        f.create_dataset("/entry/data/data", data=pattern(2, 16, 16), chunks=(1, 16, 16), compression="gzip")
        f["/entry/sample/x"] = np.array([0.0, 0.5])
        f["/entry/sample/y"] = np.array([0.0, 0.0])
    with h5py.File(out(t, "stack_shuffle_float.h5"), "w", libver="earliest") as f:
        f.create_dataset("/entry/data/data", data=pattern(2, 8, 12, np.float32), chunks=(1, 8, 12), shuffle=True,
                         compression="gzip")
    with h5py.File(out(t, "stack_contiguous_int32.h5"), "w", libver="earliest") as f:
        f["/entry/data/data"] = pattern(2, 8, 8, np.int32)
    with h5py.File(out(t, "frame_34ide.h5"), "w", libver="earliest") as f:
        f.create_dataset("/entry1/data/data", data=pattern(1, 16, 16)[0], chunks=(16, 16), compression="gzip")
        f["/entry1/sample/sampleX"] = 1.5
        f["/entry1/sample/sampleY"] = -2.0
    with h5py.File(out(t, "stack_bitshuffle.h5"), "w", libver="earliest") as f:
        f.create_dataset("/entry/data/data", data=pattern(2, 16, 16), chunks=(1, 16, 16), compression=BITSHUFFLE,
                         compression_opts=(0, 2))


def chunk_seed(name, pipeline, dtype_index, ny, nx, stored):
    with open(out("chunk_decoders", name), "wb") as f:
        f.write(bytes([pipeline, dtype_index, ny - 1, nx - 1]) + stored)


def shuffle(a):
    b = a.view(np.uint8).reshape(-1, a.dtype.itemsize)
    return b.T.copy().tobytes()


def chunks():
    # pipelines and types as indexed in fuzz_chunk_decoders.cpp
    u16 = pattern(1, 16, 16)[0]
    chunk_seed("none_u16", 0, 0, 16, 16, u16.tobytes())
    chunk_seed("deflate_u16", 1, 0, 16, 16, zlib.compress(u16.tobytes(), 4))
    chunk_seed("shuffle_deflate_u16", 2, 0, 16, 16, zlib.compress(shuffle(u16), 4))
    f32 = pattern(1, 8, 8, np.float32)[0]
    chunk_seed("shuffle_f32", 3, 4, 8, 8, shuffle(f32))
    f64 = pattern(1, 4, 4, np.float64)[0]
    chunk_seed("deflate_f64", 1, 5, 4, 4, zlib.compress(f64.tobytes(), 4))
    # bitshuffle/LZ4: the stored chunk as the plugin writes it
    path = out("chunk_decoders", "tmp.h5")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("d", data=pattern(2, 16, 16), chunks=(1, 16, 16), compression=BITSHUFFLE,
                             compression_opts=(0, 2))
        _, stored = d.id.read_direct_chunk((0, 0, 0))
    os.remove(path)
    chunk_seed("bitshuffle_lz4_u16", 4, 0, 16, 16, bytes(stored))


def spectra():
    t = "spectrum_text"
    src = os.path.join(HERE, "..", "data", "xanes", "co_metal_rt.xdi")
    lines = open(src).read().splitlines()
    data = [l for l in lines if l and not l.startswith("#")]
    head = [l for l in lines if l.startswith("# XDI") or l.startswith("# Column")] + ["# ///", "#  energy i0 itrans"]
    step = max(1, len(data) // 40)
    with open(out(t, "co_xdi.xdi"), "w") as f:
        f.write("\n".join(head + data[::step]) + "\n")
    e = np.arange(7700.0, 7760.0, 2.0)
    mu = 1 / (1 + np.exp(-(e - 7720) / 2)) + 0.4 * np.exp(-((e - 7728) / 3) ** 2)
    with open(out(t, "plain.txt"), "w") as f:
        f.writelines(f"{a:.1f} {b:.5f}\n" for a, b in zip(e, mu))
    with open(out(t, "kev_header.txt"), "w") as f:
        f.write("energy norm flat\n")
        f.writelines(f"{a / 1000:.4f},{b:.5f},{b:.5f}\n" for a, b in zip(e, mu))
    with open(out(t, "fluorescence.xdi"), "w") as f:
        f.write("# XDI/1.0\n# Column.1: energy eV\n# Column.2: i0\n# Column.3: ifluor\n# ///\n")
        f.writelines(f"{a:.1f} 1000 {1000 * b:.3f}\n" for a, b in zip(e, mu))


def journal(path_of_a_journal=None):
    """A journal cut from a real run is copied by hand (see tests/fuzz/README.md); this writes a
    minimal one with valid checksums so the corpus stands alone."""
    def line(body):
        return f"{zlib.crc32(body.encode()) & 0xffffffff:08x} {body}\n"
    text = "LAUEPROC-JOURNAL 2 0123456789abcdef 2026-01-01T00:00:00Z\n"
    text += line("C /tmp/csv")
    text += line("P 0 0 12.5 30.25 1534.5 220 9 4.5 3.25 -12.5 1 0 5.0625 2.640625 0.25 0 22.5")
    text += line("P 0 1 101 7 99.5 40 4 2 2 0 1 0 1 1 0 1 5.5")
    text += line("F 0 2 -1 -1 1 0 0 2 1 1.25 1.25 defect_free 0 0 0 0 0 0 1.5 100.5 9.75 ok")
    text += line("F 1 0 -1 -1 0 nan nan 0 0 nan nan unknown nan nan nan nan nan nan nan 100 3 empty frame")
    with open(out("journal", "journal.txt"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    h5_files()
    chunks()
    spectra()
    journal()
    for target in sorted(os.listdir(os.path.join(HERE, "corpus"))):
        folder = os.path.join(HERE, "corpus", target)
        size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
        print(f"{target}: {len(os.listdir(folder))} seeds, {size} bytes")
