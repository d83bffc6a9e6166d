#!/usr/bin/python3
"""Runs `lstm bench`, oneDNN and PyTorch side by side over the benchmark suite and prints one comparison table."""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

import suite_tables as tables

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
# The peers of each precision; `--only` names lstm, dnnl, torch (lstm covers lstm_fp32 too).
PEERS = {"fp32": ("lstm", "dnnl", "torch"), "bf16": ("lstm", "dnnl", "lstm_fp32"),
         "int8": ("lstm", "dnnl", "torch", "lstm_fp32")}
ONLY_NAME = {"lstm": "lstm", "dnnl": "dnnl", "torch": "torch", "lstm_fp32": "lstm"}
LABEL = {"lstm": "lstm", "dnnl": "oneDNN", "torch": "PyTorch", "lstm_fp32": "lstm fp32"}
# `--isa`: lstm runs under LSTM_MAX_ISA, oneDNN under the matching ONEDNN_MAX_CPU_ISA.
ONEDNN_ISA = {"scalar": "SSE41", "avx2": "AVX2", "avx512": "AVX512_CORE", "avx512_bf16": "AVX512_CORE_BF16",
              "amx": "AVX512_CORE_AMX"}
# Under int8, lstm's avx2 and avx512 paths use VPDPBUSD where the CPU has it (AVX-VNNI, AVX512-VNNI):
# oneDNN gets the same instructions (its caps are maxima, so a CPU without VNNI runs without).
ONEDNN_ISA_INT8 = dict(ONEDNN_ISA, avx2="AVX2_VNNI", avx512="AVX512_CORE_VNNI")
# ...and OpenBLAS (sgemm_peak, PyTorch) under OPENBLAS_CORETYPE where it would otherwise use wider
# registers than the path allows; lstm asks OpenBLAS for the same kernels itself under LSTM_MAX_ISA.
OPENBLAS_CORE = {"scalar": "Nehalem", "avx2": "Haswell"}
BANDWIDTH_SIZES = "256K,512K,1M,2M,4M,8M,16M,64M"
# A cache line's round trip between the first two CPUs, in ns, from which the host has placed them
# far apart (on the Zen 4 of 2026-12-06: 50–66 ns near, 308–409 far, where most slow two-thread runs were).
FAR_NS = 200
HERE = os.path.dirname(os.path.abspath(__file__))


def iterations(shape, mode, quick):
    """Timed iterations and warm-ups: about `budget` seconds per run from a rough speed guess."""
    rate = 150e9 if shape[3] >= 8 else 15e9  # FLOP/s: batched runs are GEMM-bound, batch-1 latency-bound
    estimate_s = tables.flops(*shape, mode) / rate
    budget, low, high, warmup = (0.25, 2, 10, 1) if quick else (2.0, 5, 50, 2)
    return max(low, min(high, int(budget / estimate_s))), warmup


def onednn_cap(args):
    """ONEDNN_MAX_CPU_ISA matching `--isa` at this precision."""
    return (ONEDNN_ISA_INT8 if args.precision == "int8" else ONEDNN_ISA)[args.isa]


def run_json(cmd, threads, timeout, extra_env=None):
    """Runs one benchmark program; returns (parsed JSON object or None, error text)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), **(extra_env or {}))
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
            if isinstance(obj, dict) and ("ms_median" in obj or "gflops_peak" in obj or "core_round_trip_ns" in obj):
                return obj, ""
    return None, "no JSON object with ms_median on stdout"


class Peers:
    """Knows how to invoke each peer (program, options, environment) and which ones are present."""

    def __init__(self, args):
        build = os.path.abspath(args.build_dir)
        self.args = args
        self.lstm = os.path.join(build, "lstm")
        self.dnnl = os.path.join(build, "bench", "dnnl_rnn_bench")
        self.sgemm = os.path.join(build, "bench", "sgemm_peak")
        self.fma = os.path.join(build, "bench", "fma_peak")
        self.torch = [args.python, os.path.join(HERE, "torch_rnn_bench.py")]
        self.missing = {}
        for peer, path in (("lstm", self.lstm), ("dnnl", self.dnnl), ("sgemm", self.sgemm), ("fma", self.fma)):
            if not os.access(path, os.X_OK):
                self.missing[peer] = f"{path} not found (build it first)"
        if "lstm" in self.missing:
            self.missing["lstm_fp32"] = self.missing["lstm"]
        if "torch" in args.only and "torch" in PEERS[args.precision]:
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

    def order(self):
        return [p for p in PEERS[self.args.precision] if ONLY_NAME[p] in self.args.only and p not in self.missing]

    def env(self, peer):
        """Under --isa: LSTM_MAX_ISA for lstm (which then asks OpenBLAS for the cap's kernels
        itself), ONEDNN_MAX_CPU_ISA for oneDNN and PyTorch, and OPENBLAS_CORETYPE for the other
        callers of OpenBLAS (PyTorch, sgemm_peak)."""
        if not self.args.isa:
            return {}
        blas = {"OPENBLAS_CORETYPE": OPENBLAS_CORE[self.args.isa]} if self.args.isa in OPENBLAS_CORE else {}
        if peer in ("lstm", "lstm_fp32"):
            return {"LSTM_MAX_ISA": self.args.isa}
        if peer == "dnnl":
            return {"ONEDNN_MAX_CPU_ISA": onednn_cap(self.args)}
        return dict(blas, ONEDNN_MAX_CPU_ISA=onednn_cap(self.args))  # torch, sgemm

    def command(self, peer, shape, mode, threads, iters, warmup):
        cell, i, h, b, t = shape
        common = ["--cell", cell, "--input-size", str(i), "--hidden-size", str(h), "--batch", str(b),
                  "--seq-len", str(t), "--mode", mode, "--threads", str(threads), "--json"]
        timing = ["--iters", str(iters), "--warmup", str(warmup)]
        precision = "fp32" if peer == "lstm_fp32" else self.args.precision
        if peer in ("lstm", "lstm_fp32"):
            return ([self.lstm, "bench"] + common + (timing if self.lstm_has_iters else [])
                    + (["--precision", precision] if precision != "fp32" else []))
        if peer == "dnnl":
            return [self.dnnl] + common + timing + ["--precision", precision]
        return self.torch + common + timing + (["--precision", precision] if precision != "fp32" else [])


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def measure_peaks(args, peers, rnd, state):
    """sgemm_peak and fma_peak at every thread count; keeps the best of each figure over rounds."""
    for threads in args.threads:
        if "sgemm" not in peers.missing and args.precision == "fp32":
            cmd = [peers.sgemm, "--threads", str(threads), "--sizes", "1024,2048" if args.quick else "2048,4096",
                   "--iters", "2" if args.quick else "4", "--json"]
            obj, err = run_json(cmd, threads, args.timeout, peers.env("sgemm"))
            log(f"[round {rnd}] sgemm peak, {threads} thread(s): "
                + (f"{obj['gflops_peak']:.1f} GFLOP/s" if obj else f"failed ({err})"))
            if obj:
                state["raw"].append(obj)
                state["sgemm"][threads] = max(state["sgemm"].get(threads, 0.0), obj["gflops_peak"])
        if "fma" not in peers.missing:
            cmd = [peers.fma, "--threads", str(threads), "--ms", "20" if args.quick else "50", "--repeats",
                   "3" if args.quick else "5", "--sizes", BANDWIDTH_SIZES, "--json"]
            obj, err = run_json(cmd, threads, args.timeout)
            log(f"[round {rnd}] FMA peak, {threads} thread(s): "
                + (f"{obj['gflops_peak'] or 0:.1f} GFLOP/s fp32" if obj else f"failed ({err})"))
            if obj:
                state["raw"].append(obj)
                best = state["peaks"].setdefault(threads, {})
                for key, value in obj.items():
                    if key.startswith(("gflops", "gops")) and isinstance(value, (int, float)):
                        best[key] = max(best.get(key, 0.0), value)
                bw = state["bandwidth"].setdefault(threads, {})
                for size, gbs in obj.get("bandwidth_gbs", {}).items():
                    bw[size] = max(bw.get(size, 0.0), gbs)
                if obj.get("core_round_trip_ns"):
                    state["round_trips"].append(obj["core_round_trip_ns"])
                    log(f"[round {rnd}] a cache line between the first two CPUs and back: "
                        f"{obj['core_round_trip_ns']:.0f} ns")


def placement(peers, threads, timeout):
    """fma_peak's round trip between the first two CPUs (ns), or None on one thread or without fma_peak."""
    if threads < 2 or "fma" in peers.missing:
        return None
    obj, _ = run_json([peers.fma, "--threads", "2", "--repeats", "1", "--round-trip", "--json"], 2, timeout)
    return obj.get("core_round_trip_ns") if obj else None


def run_suite(args, peers, suite):
    """Interleaves every peer over rounds; keeps per (shape, mode, peer) the best median, its thread
    count and its JSON object."""
    state = {"best": {}, "raw": [], "sgemm": {}, "peaks": {}, "bandwidth": {}, "round_trips": []}
    for rnd in range(1, args.rounds + 1):
        measure_peaks(args, peers, rnd, state)
        order = peers.order()
        order = order[rnd % len(order):] + order[:rnd % len(order)] if order else []  # rotate who goes first
        for shape in suite:
            for mode in args.modes:
                iters, warmup = iterations(shape, mode, args.quick)
                for threads in args.threads:
                    for peer in order:
                        before = placement(peers, threads, args.timeout)
                        obj, err = run_json(peers.command(peer, shape, mode, threads, iters, warmup), threads,
                                            args.timeout, peers.env(peer))
                        after = placement(peers, threads, args.timeout)
                        if obj is not None and before is not None and after is not None:
                            obj = dict(obj, core_round_trip_ns=[before, after],
                                       placement="near" if max(before, after) < FAR_NS
                                       else "far" if min(before, after) >= FAR_NS else "moved")
                        tag = f"[round {rnd}] {tables.shape_name(shape)} {mode} {threads}t {LABEL[peer]}"
                        if obj is None:
                            log(f"{tag}: n/a ({err})")
                            continue
                        log(f"{tag}: {obj['ms_median']:.3f} ms")
                        state["raw"].append(dict(obj, suite_peer=peer, suite_round=rnd))
                        key = (shape, mode, peer)
                        if key not in state["best"] or obj["ms_median"] < state["best"][key][0]:
                            state["best"][key] = (obj["ms_median"], threads, obj)
    return state


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


def describe_peaks(state):
    """One line per thread count: fma_peak's figures and read bandwidths; then the sgemm peaks."""
    names = (("gflops_fma512", "fp32 FMA 512-bit"), ("gflops_fma256", "fp32 FMA 256-bit"),
             ("gflops_bf16_dot", "VDPBF16PS"), ("gflops_amx_bf16", "AMX bf16"), ("gops_vnni", "VNNI int8 (GOP/s)"))
    lines = []
    for threads in sorted(state["peaks"]):
        p = state["peaks"][threads]
        figures = ", ".join(f"{label} {p[key]:.0f}" for key, label in names if p.get(key))
        bw = ", ".join(f"{size} {gbs:.0f}" for size, gbs in sorted(state["bandwidth"].get(threads, {}).items(),
                                                                    key=lambda kv: tables.parse_size(kv[0])))
        lines.append(f"FMA peak, {threads} thread(s), GFLOP/s: {figures or 'n/a'}; read GB/s: {bw or 'n/a'}")
    if state["round_trips"]:
        lines.append("A cache line between the first two CPUs and back, at the start of each round: "
                     + ", ".join(f"{ns:.0f}" for ns in state["round_trips"])
                     + f" ns ({FAR_NS} ns or more: the host placed the two CPUs far apart; see the README's "
                     "Speed section)")
    if state["sgemm"]:
        lines.append("OpenBLAS sgemm peak GFLOP/s: "
                     + ", ".join(f"{t} thread(s) {state['sgemm'][t]:.1f}" for t in sorted(state["sgemm"])))
    return lines


def describe_run(args, state, suite):
    """The header: peers and versions, paths in force, how the columns are computed."""
    versions = {"lstm": "lstm bench"}
    def lstm_reported(key):  # the values lstm's runs gave for `key` ("isa", "blas")
        return sorted({obj[key] for obj in state["raw"] if obj.get("suite_peer") in ("lstm", "lstm_fp32")
                       and key in obj})
    isas, blas = lstm_reported("isa"), lstm_reported("blas")
    for obj in state["raw"]:
        if obj.get("suite_peer") == "dnnl" and "version" in obj:
            versions["dnnl"] = f"oneDNN {obj['version']}"
        if obj.get("suite_peer") == "torch" and "torch_version" in obj:
            engine = f", quantize_dynamic per channel on the {obj['quantized_engine']} engine" \
                if "quantized_engine" in obj else ""
            versions["torch"] = f"PyTorch {obj['torch_version']} (CPU{engine})"
    peers = ", ".join(versions.get(p, LABEL[p]) for p in PEERS[args.precision] if ONLY_NAME[p] in args.only
                      and p != "lstm_fp32")
    cap = "no cap (each library's best path)"
    if args.isa:
        cap = f"LSTM_MAX_ISA={args.isa}, ONEDNN_MAX_CPU_ISA={onednn_cap(args)}"
        cap += f", OPENBLAS_CORETYPE={OPENBLAS_CORE[args.isa]} for PyTorch and sgemm" if args.isa in OPENBLAS_CORE \
            else ""
    text = (f"Peers: {peers}; precision {args.precision}; instruction sets: {cap}; lstm path in force: "
            f"{', '.join(isas) or 'n/a'}; its BLAS: {', '.join(blas) or 'n/a'}. Times are the best median over {args.rounds} round(s) and "
            f"{'/'.join(map(str, args.threads))} thread(s) (the winning thread count in parentheses, with "
            f"', far' when a cache line took {FAR_NS} ns or more between the first two CPUs and back before "
            f"and after that run, the host having placed them far apart (or the machine being busy), and "
            f"', moved' when it changed during it); FLOPs = 2·G·H·(I+H)·B·T forward, 3× for train.")
    if args.precision == "int8":
        text += (" int8 is inference only. oneDNN: u8s8 LSTM with u8 input and h (scale 63, shift 64; the input "
                 "is quantized before its timed region), s8 weights with one scale per row shared by W_ih and "
                 "W_hh, f32 c, bias and output; oneDNN 2.6 has no int8 GRU (n/a). lstm fp32: the same run "
                 "without --precision.")
    else:
        text += (" % FMA peak: of fma_peak's figure at the winning run's thread count (fp32: the best FMA width "
                 "of the path, 256-bit on avx2; bf16: VDPBF16PS or AMX as the path uses).")
    text += (" W_hh floor (batch 1): G·H·H weights × bytes × T (×2 for train) ÷ the read bandwidth of each "
             "thread's share of W_hh.")
    if args.precision == "fp32":
        text += " % sgemm: of the largest thread count's sgemm peak."
    if len(suite) < len(SUITE):
        text += f" Shapes: {len(suite)} of {len(SUITE)} (--shapes)."
    return text


def markdown(header, rows, verdicts, args, state, suite):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"Benchmark run {now} on {machine()}.", "", describe_run(args, state, suite), ""]
    lines += [line + "  " for line in describe_peaks(state)]
    lines += ["", f"Targets met: {verdicts.met} of {verdicts.checked}.", "", tables.markdown_table(header, rows)]
    return "\n".join(lines) + "\n"


def csv_list(kind, allowed):
    def parse(text):
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"{kind} must be a comma list of {', '.join(map(str, allowed))}")
        return items
    return parse


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"),
                   help="CMake build directory holding lstm and bench/ (default: ../build)")
    p.add_argument("--quick", action="store_true", help="one round, few iterations: a smoke run")
    p.add_argument("--rounds", type=int, help="rounds over the suite (default 3, 1 with --quick)")
    p.add_argument("--only", type=csv_list("--only", ("lstm", "dnnl", "torch")), default=["lstm", "dnnl", "torch"],
                   help="subset of lstm,dnnl,torch")
    p.add_argument("--modes", type=csv_list("--modes", ("infer", "train")), default=["infer", "train"])
    p.add_argument("--shapes", type=csv_list("--shapes", [str(i) for i in range(len(SUITE))]),
                   help="indices of the suite's shapes to run (default all): "
                        + ", ".join(f"{i} = {tables.shape_name(s)}" for i, s in enumerate(SUITE)))
    p.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                   help="thread counts to try (default 1,2; the best wins)")
    p.add_argument("--isa", choices=sorted(ONEDNN_ISA),
                   help="cap lstm (LSTM_MAX_ISA) and oneDNN (ONEDNN_MAX_CPU_ISA) to this instruction set")
    p.add_argument("--precision", choices=["fp32", "bf16", "int8"], default="fp32",
                   help="bf16: lstm --precision bf16 against oneDNN bf16 and against lstm fp32; int8 (inference "
                        "only): lstm int8 against oneDNN u8s8, PyTorch's dynamic quantization and lstm fp32")
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch (default /usr/bin/python3)")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per benchmark process")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as markdown (for the README)")
    p.add_argument("--json-out", metavar="FILE", help="also write every raw measurement as JSON")
    args = p.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.precision == "int8" and "train" in args.modes:
        args.modes = [m for m in args.modes if m != "train"]
        log("note: --precision int8 is inference only: train rows skipped")
        if not args.modes:
            p.error("--precision int8 needs --modes infer")
    if args.rounds < 1 or any(t < 1 for t in args.threads):
        p.error("--rounds and --threads must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    suite = [SUITE[int(i)] for i in args.shapes] if args.shapes else SUITE
    peers = Peers(args)
    for peer, why in sorted(peers.missing.items()):
        if peer in ("sgemm", "fma") or (peer in PEERS[args.precision] and ONLY_NAME[peer] in args.only):
            log(f"note: {peer} unavailable: {why}; its columns show n/a")
    state = run_suite(args, peers, suite)
    if args.precision == "bf16":
        header, rows, verdicts = tables.bf16_table(suite, args.modes, state["best"], state["peaks"],
                                                   state["bandwidth"])
    elif args.precision == "int8":
        header, rows, verdicts = tables.int8_table(suite, args.modes, state["best"], state["bandwidth"])
    else:
        header, rows, verdicts = tables.fp32_table(suite, args.modes, state["best"], state["peaks"],
                                                   state["bandwidth"], state["sgemm"], max(args.threads))

    print("\n".join([machine(), describe_run(args, state, suite)] + describe_peaks(state)) + "\n")
    print(tables.text_table(header, rows))
    print(f"\ntargets met: {verdicts.met} of {verdicts.checked} checked")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(header, rows, verdicts, args, state, suite))
        log(f"wrote {args.markdown}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"sgemm_peak": state["sgemm"], "fma_peak": state["peaks"], "bandwidth_gbs": state["bandwidth"],
                       "results": state["raw"]}, f, indent=1)
        log(f"wrote {args.json_out}")


if __name__ == "__main__":
    main(sys.argv[1:])
