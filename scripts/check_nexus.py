#!/usr/bin/env python3
"""Checks that laueproc results files open as silx (and `silx view`) expects: every NXdata group
valid, the file's default plot resolving to an image. One line per file; exit 1 on a problem.

usage: scripts/check_nexus.py FILE.h5 [FILE.h5 ...]
"""
import sys

import h5py
import silx.io
import silx.io.nxdata as nxdata


def nxdata_groups(f):
    found = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and obj.attrs.get("NX_class") in (b"NXdata", "NXdata"):
            found.append("/" + name)

    f.visititems(visit)
    return found


def main(paths):
    bad = 0
    for path in paths:
        with h5py.File(path, "r") as h:
            groups = nxdata_groups(h)
        f = silx.io.open(path)
        invalid = [g for g in groups if not nxdata.is_valid_nxdata(f[g])]
        default = nxdata.get_default(f)
        problems = []
        if not groups:
            problems.append("no NXdata group")
        if invalid:
            problems.append("invalid NXdata: " + ", ".join(invalid))
        if default is None:
            problems.append("no default plot (@default chain)")
        elif len(default.signal.shape) != 2:
            problems.append("default plot %s is not an image" % default.group.name)
        if problems:
            bad += 1
            print("%s: %s" % (path, "; ".join(problems)))
        else:
            print("%s: ok (%d NXdata, default %s %s)" % (path, len(groups), default.group.name, default.signal.shape))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
