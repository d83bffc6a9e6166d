#!/usr/bin/python3
"""Writes the .npy fixtures of tests/npy_test.cpp with NumPy itself (run: /usr/bin/python3 THIS)."""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, array, version=None):
    with open(os.path.join(HERE, name), "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=False)


counting = np.arange(6).reshape(2, 3) / 4 - 0.5  # [[-0.5, -0.25, 0], [0.25, 0.5, 0.75]]
save("f4_2x3.npy", counting.astype("<f4"))
save("f4_be_2x3.npy", counting.astype(">f4"))
save("f8_2x3.npy", counting.astype("<f8"))
save("f8_be_2x3.npy", counting.astype(">f8"))
save("f2_2x3.npy", counting.astype("<f2"))
save("f2_be_2x3.npy", counting.astype(">f2"))
save("f4_v2_2x3.npy", counting.astype("<f4"), version=(2, 0))
save("f4_v3_2x3.npy", counting.astype("<f4"), version=(3, 0))
# Fortran order: element [i, j, k] is 100 i + 10 j + k.
grid = np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (2, 3, 4))
save("f4_fortran_2x3x4.npy", np.asfortranarray(grid.astype("<f4")))
save("f4_scalar.npy", np.array(3.5, dtype="<f4"))
save("f4_empty_0x3.npy", np.zeros((0, 3), dtype="<f4"))
save("f4_vector_5.npy", np.arange(5, dtype="<f4"))
save("i4_lengths.npy", np.array([3, 1, 2], dtype="<i4"))
save("i8_values.npy", np.array([5, -1, 7, 2**40], dtype="<i8"))
save("i2_be_values.npy", np.array([-3, 300], dtype=">i2"))
save("i1_values.npy", np.array([-128, 127], dtype="i1"))
save("u1_values.npy", np.array([0, 255], dtype="u1"))
save("u2_values.npy", np.array([0, 65535], dtype="<u2"))
save("u4_be_values.npy", np.array([4000000000], dtype=">u4"))
save("i4_fortran_2x3.npy", np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype="<i4")))
save("c8_unsupported.npy", np.array([1 + 2j], dtype="<c8"))
save("bool_unsupported.npy", np.array([True, False]))
