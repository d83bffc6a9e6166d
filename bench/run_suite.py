#!/usr/bin/python3
"""Runs `lstm bench`, oneDNN and PyTorch side by side over the benchmark suite and prints one comparison table."""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

# (cell, input size I, hidden size H, batch B, steps T); each shape runs in both modes.
SUITE = [
    ("lstm", 512, 512, 64, 50),
    ("lstm", 128, 128, 32, 100),
    ("lstm", 256, 256, 1, 100),
    ("lstm", 1024, 1024, 1, 25),
    ("lstm", 1024, 1024, 64, 25),
    ("gru", 512, 512, 64, 50),
    ("gru", 256, 256, 1, 100),
]
PEERS = ("lstm", "dnnl", "torch")
LABEL = {"lstm": "lstm", "dnnl": "oneDNN", "torch": "PyTorch"}
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1}
# Targets for `lstm`: time ratios against the peers, and a share of the sgemm peak on big shapes.
TARGET_DNNL, TARGET_DNNL_BATCH1, TARGET_TORCH, TARGET_PEAK = 0.8, 0.6, 0.4, 0.75
HERE = os.path.dirname(os.path.abspath(__file__))


def flops(cell, i, h, b, t, mode):
    forward = 2.0 * GATES[cell] * h * (i + h) * b * t
    return forward * (3.0 if mode == "train" else 1.0)


def iterations(shape, mode, quick):
    """Timed iterations and warm-ups: about `budget` seconds per run from a rough speed guess."""
    rate = 150e9 if shape[3] >= 8 else 15e9  # FLOP/s: batched runs are GEMM-bound, batch-1 latency-bound
    estimate_s = flops(*shape, mode) / rate
    budget, low, high, warmup = (0.25, 2, 10, 1) if quick else (2.0, 5, 50, 2)
    return max(low, min(high, int(budget / estimate_s))), warmup


def run_json(cmd, threads, timeout):
    """Runs one benchmark program; returns (parsed JSON object or None, error text)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return None, f"exit {proc.returncode}: {lines[-1] if lines else 'no message'}"
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                break
            if isinstance(obj, dict) and ("ms_median" in obj or "gflops_peak" in obj):
                return obj, ""
    return None, "no JSON object with ms_median on stdout"


class Peers:
    """Knows how to invoke each peer and which ones are present."""

    def __init__(self, args):
        build = os.path.abspath(args.build_dir)
        self.lstm = os.path.join(build, "lstm")
        self.dnnl = os.path.join(build, "bench", "dnnl_rnn_bench")
        self.sgemm = os.path.join(build, "bench", "sgemm_peak")
        self.torch = [args.python, os.path.join(HERE, "torch_rnn_bench.py")]
        self.missing = {}
        for peer, path in (("lstm", self.lstm), ("dnnl", self.dnnl), ("sgemm", self.sgemm)):
            if not os.access(path, os.X_OK):
                self.missing[peer] = f"{path} not found (build it first)"
        if "torch" in args.only:
            probe = subprocess.run([args.python, "-c", "import torch"], capture_output=True, text=True)
            if probe.returncode != 0:
                self.missing["torch"] = f"{args.python} cannot import torch"
        # `lstm bench` must accept the SPEC §5 options; --iters/--warmup only if its help lists them.
        self.lstm_has_iters = False
        if "lstm" not in self.missing:
            try:
                helptext = subprocess.run([self.lstm, "bench", "--help"], capture_output=True, text=True, timeout=30)
                self.lstm_has_iters = "--iters" in helptext.stdout + helptext.stderr
            except (OSError, subprocess.TimeoutExpired):
                pass

    def command(self, peer, shape, mode, threads, iters, warmup):
        cell, i, h, b, t = shape
        common = ["--cell", cell, "--input-size", str(i), "--hidden-size", str(h), "--batch", str(b),
                  "--seq-len", str(t), "--mode", mode, "--threads", str(threads), "--json"]
        timing = ["--iters", str(iters), "--warmup", str(warmup)]
        if peer == "lstm":
            return [self.lstm, "bench"] + common + (timing if self.lstm_has_iters else [])
        if peer == "dnnl":
            return [self.dnnl] + common + timing
        return self.torch + common + timing


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def shape_name(shape):
    return "{} {}/{}/{}/{}".format(*shape)


def run_suite(args, peers):
    """Interleaves every peer over rounds; keeps per-(shape, mode, peer) the best median and its thread count."""
    best, raw, sgemm = {}, [], {}
    sizes = "1024,2048" if args.quick else "2048,4096"
    for rnd in range(1, args.rounds + 1):
        if "sgemm" not in peers.missing:
            for threads in args.threads:
                cmd = [peers.sgemm, "--threads", str(threads), "--sizes", sizes, "--iters", "2" if args.quick else "4",
                       "--json"]
                obj, err = run_json(cmd, threads, args.timeout)
                log(f"[round {rnd}] sgemm peak, {threads} thread(s): "
                    + (f"{obj['gflops_peak']:.1f} GFLOP/s" if obj else f"failed ({err})"))
                if obj:
                    raw.append(obj)
                    sgemm[threads] = max(sgemm.get(threads, 0.0), obj["gflops_peak"])
        order = [p for p in PEERS if p in args.only and p not in peers.missing]
        order = order[rnd % len(order):] + order[:rnd % len(order)] if order else []  # rotate who goes first
        for shape in SUITE:
            for mode in args.modes:
                iters, warmup = iterations(shape, mode, args.quick)
                for threads in args.threads:
                    for peer in order:
                        obj, err = run_json(peers.command(peer, shape, mode, threads, iters, warmup), threads,
                                            args.timeout)
                        tag = f"[round {rnd}] {shape_name(shape)} {mode} {threads}t {LABEL[peer]}"
                        if obj is None:
                            log(f"{tag}: n/a ({err})")
                            continue
                        log(f"{tag}: {obj['ms_median']:.3f} ms")
                        raw.append(dict(obj, suite_peer=peer, suite_round=rnd))
                        key = (shape, mode, peer)
                        if key not in best or obj["ms_median"] < best[key][0]:
                            best[key] = (obj["ms_median"], threads)
    return best, sgemm, raw


def build_rows(best, sgemm, args):
    """One row of strings per (shape, mode), plus (met, checked) target counts."""
    peak = sgemm.get(max(args.threads)) if sgemm else None
    rows, met, checked = [], 0, 0

    def verdict(ok):
        nonlocal met, checked
        checked += 1
        met += ok
        return "ok" if ok else "MISS"

    for shape in SUITE:
        b = shape[3]
        for mode in args.modes:
            ms = {p: best.get((shape, mode, p)) for p in PEERS}
            cells = [shape_name(shape), mode]
            cells += [f"{ms[p][0]:.2f} ({ms[p][1]}t)" if ms[p] else "n/a" for p in PEERS]
            mine = ms["lstm"][0] if ms["lstm"] else None
            gflops = flops(*shape, mode) / (mine * 1e6) if mine else None
            ratio_dnnl = mine / ms["dnnl"][0] if mine and ms["dnnl"] else None
            ratio_torch = mine / ms["torch"][0] if mine and ms["torch"] else None
            share = gflops / peak if gflops and peak else None
            cells.append(f"{gflops:.1f}" if gflops else "n/a")
            cells += [f"{r:.2f}" if r is not None else "n/a" for r in (ratio_dnnl, ratio_torch)]
            cells.append(f"{100 * share:.0f}%" if share is not None else "n/a")
            target = TARGET_DNNL_BATCH1 if b == 1 else TARGET_DNNL
            cells.append(f"{verdict(ratio_dnnl <= target)} (≤{target})" if ratio_dnnl is not None else "n/a")
            cells.append(verdict(ratio_torch <= TARGET_TORCH) if ratio_torch is not None else "n/a")
            if shape[2] >= 512 and b >= 64:
                cells.append(verdict(share >= TARGET_PEAK) if share is not None else "n/a")
            else:
                cells.append("-")
            rows.append(cells)
    return rows, met, checked


HEADER = ["cell I/H/B/T", "mode", "lstm ms", "oneDNN ms", "PyTorch ms", "lstm GFLOP/s", "lstm/oneDNN",
          "lstm/PyTorch", "% sgemm", f"≤{TARGET_DNNL}×oneDNN", f"≤{TARGET_TORCH}×PyTorch", f"≥{TARGET_PEAK:.0%} peak"]


def text_table(rows):
    widths = [max(len(r[c]) for r in [HEADER] + rows) for c in range(len(HEADER))]
    fmt = lambda r: "  ".join(v.rjust(w) if c >= 2 else v.ljust(w) for c, (v, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(HEADER), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def machine():
    model, cores = platform.processor() or "unknown CPU", set()
    physical = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name":
                    model = value
                elif key == "physical id":
                    physical = value
                elif key == "core id":
                    cores.add((physical, value))
    except OSError:
        pass
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {len(cores) or '?'} cores / {logical} logical CPUs available, {platform.system()} {platform.release()}"


def markdown(rows, sgemm, met, checked, args, versions):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    peaks = ", ".join(f"{sgemm[t]:.0f} GFLOP/s on {t} thread{'s' if t > 1 else ''}" for t in sorted(sgemm)) or "n/a"
    lines = [
        f"Benchmark run {now} on {machine()}.",
        "",
        f"Peers: {versions}. OpenBLAS sgemm peak: {peaks}. Times are the best median over {args.rounds} "
        f"round(s) and {'/'.join(map(str, args.threads))} thread(s) (the winning thread count in parentheses); "
        f"FLOPs = 2·G·H·(I+H)·B·T forward, 3× for train. Targets met: {met} of {checked}. "
        f"Batch-1 shapes use the ≤{TARGET_DNNL_BATCH1}×oneDNN target.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" if c < 2 else "---:" for c in range(len(HEADER))) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def csv_list(kind, allowed):
    def parse(text):
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{kind} must be a comma list of {', '.join(map(str, allowed))}")
        return items
    return parse


def main(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"),
                   help="CMake build directory holding lstm and bench/ (default: ../build)")
    p.add_argument("--quick", action="store_true", help="one round, few iterations: a smoke run")
    p.add_argument("--rounds", type=int, help="rounds over the suite (default 3, 1 with --quick)")
    p.add_argument("--only", type=csv_list("--only", PEERS), default=list(PEERS), help="subset of lstm,dnnl,torch")
    p.add_argument("--modes", type=csv_list("--modes", ("infer", "train")), default=["infer", "train"])
    p.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                   help="thread counts to try (default 1,2; the best wins)")
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch (default /usr/bin/python3)")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per benchmark process")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as markdown (for the README)")
    p.add_argument("--json-out", metavar="FILE", help="also write every raw measurement as JSON")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.rounds < 1 or any(t < 1 for t in args.threads):
        p.error("--rounds and --threads must be positive")

    peers = Peers(args)
    for peer, why in sorted(peers.missing.items()):
        if peer in args.only or peer == "sgemm":
            log(f"note: {peer} unavailable: {why}; its columns show n/a")
    best, sgemm, raw = run_suite(args, peers)
    rows, met, checked = build_rows(best, sgemm, args)

    versions = {"lstm": "lstm bench"}
    for obj in raw:
        if obj.get("suite_peer") == "dnnl" and "version" in obj:
            versions["dnnl"] = f"oneDNN {obj['version']}"
        if obj.get("suite_peer") == "torch" and "torch_version" in obj:
            versions["torch"] = f"PyTorch {obj['torch_version']} (CPU)"
    version_text = ", ".join(versions.get(p, LABEL[p]) for p in PEERS if p in args.only)

    peaks = ", ".join(f"{t} thread(s) {sgemm[t]:.1f}" for t in sorted(sgemm)) or "n/a"
    print(f"{machine()}\nsgemm peak GFLOP/s: {peaks}; % sgemm uses the {max(args.threads)}-thread peak\n")
    print(text_table(rows))
    print(f"\ntargets met: {met} of {checked} checked")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(rows, sgemm, met, checked, args, version_text))
        log(f"wrote {args.markdown}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"sgemm_peak": sgemm, "results": raw}, f, indent=1)
        log(f"wrote {args.json_out}")


if __name__ == "__main__":
    main(sys.argv[1:])
