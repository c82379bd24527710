#!/usr/bin/env python3
"""Writes linspace-reference.txt: np.linspace(0, n-1, N, dtype=int) for the
sampler unit test (the element must choose exactly these frame indices at a
constant frame rate).  Dev-time only; the test reads the committed output.

Each line: "n N: i_0 i_1 ... i_{N-1}" (duplicates kept, as numpy gives them).
"""
import numpy as np

with open("linspace-reference.txt", "w") as f:
    f.write("# np.linspace(0, n-1, N, dtype=int), numpy %s\n" % np.__version__)
    for N in (1, 2, 3, 4, 5, 7, 8, 10, 12, 16, 32, 64):
        for n in list(range(1, 301)) + [449, 450, 451, 899, 900, 1799, 1800, 3600]:
            idx = np.linspace(0, n - 1, N, dtype=int)
            f.write("%d %d: %s\n" % (n, N, " ".join(str(int(i)) for i in idx)))
