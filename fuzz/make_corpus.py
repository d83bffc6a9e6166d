#!/usr/bin/python3
"""Makes fuzz/corpus/metadata and fuzz/corpus/checkpoint from real files written by lstm.

Usage: /usr/bin/python3 fuzz/make_corpus.py build/lstm
Trains tiny forecast and language models (kept checkpoints), then writes each checkpoint as a
checkpoint seed and each metadata value as a metadata seed: one byte choosing the key (the
order of fuzz_metadata.cpp's keys) followed by the value.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

KEYS = ["config", "sequence_model", "forecast", "normalization", "charlm", "checkpoint"]
HERE = os.path.dirname(os.path.abspath(__file__))


def header(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length)).get("__metadata__", {})


def main():
    lstm = os.path.abspath(sys.argv[1])
    metadata_dir = os.path.join(HERE, "corpus", "metadata")
    checkpoint_dir = os.path.join(HERE, "corpus", "checkpoint")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(checkpoint_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        series = os.path.join(work, "s.csv")
        with open(series, "w") as f:
            f.write("date,y,x\n")
            for t in range(120):
                f.write(f"2000-{1 + t % 12:02d}-01,{math.sin(t / 2) + 0.05 * t},{math.cos(t / 3)}\n"
                        .replace("2000-", f"{2000 + t // 12}-"))
        text = os.path.join(work, "t.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write("In the beginning caf\u00e9 \u20ac " * 40)
        runs = {
            "forecast": ["--task", "forecast", "--data", series, "--target", "y", "--features", "x",
                         "--horizon", "3", "--differencing", "1"],
            "forecast_gru": ["--task", "forecast", "--data", series, "--target", "y", "--cell",
                             "gru", "--layers", "2"],
            "charlm": ["--task", "charlm", "--data", text, "--window", "10", "--embedding", "4"],
            "charlm_bytes": ["--task", "charlm", "--data", text, "--window", "10", "--vocabulary",
                             "bytes", "--cell", "rnn_relu", "--embedding", "4"],
        }
        for name, options in runs.items():
            model = os.path.join(work, name + ".safetensors")
            checkpoint = os.path.join(work, name + ".ckpt")
            subprocess.run([lstm, "train", *options, "--out", model, "--checkpoint", checkpoint,
                            "--hidden", "3", "--epochs", "1", "--threads", "1", "--quiet"],
                           check=True)
            with open(checkpoint, "rb") as f, \
                    open(os.path.join(checkpoint_dir, name + ".ckpt"), "wb") as out:
                out.write(f.read())
            for source in (model, checkpoint):
                for key, value in header(source).items():
                    # The model's keys from the model, only "checkpoint" from the checkpoint.
                    if key not in KEYS or (source == checkpoint) != (key == "checkpoint"):
                        continue
                    seed = os.path.join(metadata_dir, f"{name}_{key}")
                    with open(seed, "wb") as out:
                        out.write(bytes([KEYS.index(key)]) + value.encode())


if __name__ == "__main__":
    main()
