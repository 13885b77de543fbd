#!/usr/bin/env python3
"""Prints the 2^(k/128) table of host/stages/fast_exp.cpp, computed here from first principles
with 80-digit decimal arithmetic: for k = 0..127, H = 2^(k/128) rounded to the nearest double and
T = 2^(k/128) / H - 1 rounded to the nearest double; the table holds bits(T) and bits(H) - (k << 45)
(the layout of glibc's exp since 2.28, whose results fast_exp reproduces bit for bit; the unit
test tests/stages/test_fast_exp.cpp compares every value against the system's std::exp).

usage: scripts/gen_exp_table.py > table.inc
"""
import struct
from decimal import Decimal, getcontext

getcontext().prec = 80
ln2 = Decimal(2).ln()


def bits(f):
    return struct.unpack("<Q", struct.pack("<d", f))[0]


values = []
for k in range(128):
    exact = (ln2 * k / 128).exp()
    head = float(exact)  # correctly rounded
    tail = float(exact / Decimal(head) - 1)
    values += [bits(tail), (bits(head) - (k << 45)) % 2**64]
for i in range(0, len(values), 4):
    print("    " + ", ".join(f"0x{v:016x}ull" for v in values[i:i + 4]) + ",")
