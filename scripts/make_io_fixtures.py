#!/usr/bin/env python3
"""Writes tests/data/io/bitshuffle_h5py.h5: small datasets compressed by h5py with the bitshuffle
filter of Debian's python3 `bitshuffle` package (its own build of the filter, not the C plugin the
tests also use), for the chunk-direct decoder tests (tests/io/test_decode.cpp).

Every dataset holds value(k, y, x) below, so the C++ test recomputes the truth:
  v = (k * 1000003 + y * 7919 + x * 104729) % 65521
  uint8: v % 251; uint16: v; uint32: v * 65537; int32: v * 32771 - 2**30; float32: v * 0.25 - 100
Shape (2, 21, 27): chunks one frame (1, 21, 27), tiles with partial edge chunks (2, 8, 10), and
odd chunks (1, 13, 7) with a 64-element block (a partial block and size % 8 leftover elements).
Also a gzip (deflate level 4) uint16 dataset with tiles.

  python3 scripts/make_io_fixtures.py [OUT]
"""
import sys

import h5py
import numpy as np
import bitshuffle.h5  # registers filter 32008 with h5py's HDF5

SHAPE = (2, 21, 27)
CHUNKS = {"frame": (1, 21, 27), "tiles": (2, 8, 10), "odd": (1, 13, 7)}
BLOCK = {"frame": 0, "tiles": 0, "odd": 64}


def values(dtype):
    k, y, x = np.indices(SHAPE, dtype=np.int64)
    v = (k * 1000003 + y * 7919 + x * 104729) % 65521
    if dtype == "uint8":
        return (v % 251).astype(np.uint8)
    if dtype == "uint16":
        return v.astype(np.uint16)
    if dtype == "uint32":
        return (v * 65537).astype(np.uint32)
    if dtype == "int32":
        return (v * 32771 - 2**30).astype(np.int32)
    return (v * 0.25 - 100.0).astype(np.float32)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/io/bitshuffle_h5py.h5"
    with h5py.File(out, "w") as f:
        f.attrs["written_by"] = "scripts/make_io_fixtures.py, h5py %s, python3 bitshuffle" % h5py.__version__
        for dtype in ("uint8", "uint16", "uint32", "int32", "float32"):
            for name, chunks in CHUNKS.items():
                bitshuffle.h5.create_dataset(
                    f, ("%s_%s" % (dtype, name)).encode(), SHAPE, np.dtype(dtype), chunks=chunks,
                    filter_pipeline=(32008,), filter_flags=(h5py.h5z.FLAG_MANDATORY,),
                    filter_opts=((BLOCK[name], bitshuffle.h5.H5_COMPRESS_LZ4),))
                f["%s_%s" % (dtype, name)][...] = values(dtype)
        f.create_dataset("uint16_gzip_tiles", data=values("uint16"), chunks=CHUNKS["tiles"],
                         compression="gzip", compression_opts=4, shuffle=True)


if __name__ == "__main__":
    main()
