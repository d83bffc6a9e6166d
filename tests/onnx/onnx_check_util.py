"""Helpers of the ONNX checks: running the lstm CLI, safetensors files, comparisons."""
import json
import os
import struct
import subprocess
import sys

import numpy as np


def run(args, expect_ok=True):
    """Runs a command; returns (exit status, stderr). Fails the check on an unexpected status."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if expect_ok and result.returncode != 0:
        fail(f"command failed ({result.returncode}): {' '.join(map(str, args))}\n{result.stderr}")
    return result.returncode, result.stderr


def run_output(args):
    """Runs a command that must succeed; returns its standard output."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"command failed ({result.returncode}): {' '.join(map(str, args))}\n{result.stderr}")
    return result.stdout


def fail(message):
    print("FAIL:", message, file=sys.stderr)
    sys.exit(1)


def write_safetensors(path, tensors, metadata=None):
    """float32 tensors only, in the given order."""
    header, offset, payload = ({"__metadata__": metadata} if metadata else {}), 0, b""
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        payload += data
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + payload)


def read_safetensors(path):
    """Returns ({name: float32 array}, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    metadata = header.pop("__metadata__", {})
    base = 8 + size
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F32", entry
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + start:base + end], dtype="<f4").reshape(entry["shape"])
    return tensors, metadata


def check_close(what, actual, expected, tolerance=1e-5):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        fail(f"{what}: shape {actual.shape}, expected {expected.shape}")
    error = np.max(np.abs(actual - expected) / (1.0 + np.abs(expected))) if actual.size else 0.0
    if not error <= tolerance:
        fail(f"{what}: largest relative difference {error:.3g} over tolerance {tolerance}")
    return error


def check_refused(args, needle, output):
    """The command must exit 1 with one stderr line containing `needle` and leave no `output`."""
    status, stderr = run(args, expect_ok=False)
    lines = stderr.strip().splitlines()
    if status != 1 or len(lines) != 1 or needle not in lines[0]:
        fail(f"expected exit 1 and one line with {needle!r}; got {status}: {stderr!r}")
    if os.path.exists(output):
        fail(f"{output} was left behind by a refused command")
    return lines[0]
