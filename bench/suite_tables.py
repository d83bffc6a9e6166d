"""Turns run_suite.py's measurements into the fp32, bf16 and int8 comparison tables, with the issue-14 and
issue-20 targets."""

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1}
# Targets (issue 14). fp32: share of the FMA peak on big shapes, time ratios against oneDNN elsewhere.
TARGET_FMA_SHARE, TARGET_DNNL, TARGET_DNNL_BATCH1 = 0.85, 1.0, 0.6
# bf16: time ratio against oneDNN bf16 and speed-up over our own fp32, on big shapes.
TARGET_BF16_DNNL, TARGET_BF16_SPEEDUP = 0.9, 1.8
# fp32 peak of each lstm path (fma_peak JSON key); bf16 peak of each bf16 path.
FP32_PEAK_KEY = {"avx2": "gflops_fma256"}  # every other path: gflops_peak (the best fp32 FMA figure)
BF16_PEAK_KEY = {"amx": "gflops_amx_bf16", "avx512_bf16": "gflops_bf16_dot"}
# int8 (issue 20), inference: time ratios against oneDNN u8s8 and PyTorch's dynamic quantization on
# every LSTM shape, and the speed-up over our own fp32 on two shapes.
TARGET_INT8_DNNL, TARGET_INT8_TORCH = 1.0, 0.3
TARGET_INT8_SPEEDUP = {("lstm", 1024, 1024, 1, 25): 3.0, ("lstm", 512, 512, 64, 50): 2.5}


def flops(cell, i, h, b, t, mode):
    forward = 2.0 * GATES[cell] * h * (i + h) * b * t
    return forward * (3.0 if mode == "train" else 1.0)


def shape_name(shape):
    return "{} {}/{}/{}/{}".format(*shape)


def is_big(shape):
    return shape[2] >= 512 and shape[3] >= 64


def parse_size(label):
    """'256KiB' / '4MiB' (fma_peak's keys) → bytes."""
    for unit, scale in (("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("B", 1)):
        if label.endswith(unit):
            return int(label[: -len(unit)]) * scale
    return int(label)


def bandwidth_floor_ms(shape, mode, threads, bytes_per_weight, bandwidth):
    """Time below which a batch-1 run cannot go: W_hh streamed once per step (twice in train: forward
    and the backward dh product) at the read bandwidth measured with `threads` threads, each holding
    its share of W_hh (the smallest probe size ≥ that share; the largest probe if none is)."""
    cell, _, h, _, t = shape
    probes = bandwidth.get(threads)
    if not probes:
        return None
    w_hh = GATES[cell] * h * h * bytes_per_weight
    sizes = sorted((parse_size(k), gbs) for k, gbs in probes.items())
    share = w_hh / threads
    gbs = next((g for s, g in sizes if s >= share), sizes[-1][1])
    passes = 2 if mode == "train" else 1
    return w_hh * t * passes / (gbs * 1e9) * 1e3


class Verdicts:
    """Counts targets met / checked while formatting ok / MISS cells."""

    def __init__(self):
        self.met = self.checked = 0

    def cell(self, ok, label=""):
        if ok is None:
            return "n/a"
        self.checked += 1
        self.met += bool(ok)
        return ("ok" if ok else "MISS") + (f" ({label})" if label else "")


def fmt_ms(entry):
    """Median ms and the winning thread count; ", far" or ", moved" when the host had the two CPUs
    far apart around that run (run_suite's `placement`)."""
    if not entry:
        return "n/a"
    where = entry[2].get("placement", "near") if len(entry) > 2 else "near"
    return f"{entry[0]:.2f} ({entry[1]}t{'' if where == 'near' else ', ' + where})"


def fmt(value, spec, suffix=""):
    return "n/a" if value is None else format(value, spec) + suffix


def ratio(a, b):
    return a[0] / b[0] if a and b else None


def dnnl_impl(entry, mode):
    """oneDNN's implementation names (forward, + backward in train) from its JSON."""
    if not entry:
        return "n/a"
    impl = entry[2].get("impl", "?")
    return impl + (f" + {entry[2].get('impl_backward', '?')}" if mode == "train" else "")


def peak_of(peaks, threads, key):
    value = peaks.get(threads, {}).get(key)
    return value if value else None


def fp32_table(suite, modes, best, peaks, bandwidth, sgemm, sgemm_threads):
    """The fp32 table: lstm against oneDNN and PyTorch, shares of the sgemm and FMA peaks."""
    header = ["cell I/H/B/T", "mode", "lstm ms", "oneDNN ms", "PyTorch ms", "lstm GFLOP/s", "lstm/oneDNN",
              "lstm/PyTorch", "% sgemm", "% FMA peak", "W_hh floor ms", f"≤{TARGET_DNNL}×oneDNN",
              f"≥{TARGET_FMA_SHARE:.0%} FMA", "lstm isa", "oneDNN impl"]
    verdicts, rows = Verdicts(), []
    for shape in suite:
        for mode in modes:
            mine, dnnl, torch = (best.get((shape, mode, p)) for p in ("lstm", "dnnl", "torch"))
            gflops = flops(*shape, mode) / (mine[0] * 1e6) if mine else None
            isa = mine[2].get("isa", "?") if mine else None
            fma = peak_of(peaks, mine[1], FP32_PEAK_KEY.get(isa, "gflops_peak")) if mine else None
            sg = sgemm.get(sgemm_threads)
            floor = bandwidth_floor_ms(shape, mode, mine[1], 4, bandwidth) if mine and shape[3] == 1 else None
            r_dnnl = ratio(mine, dnnl)
            if is_big(shape):
                dnnl_verdict = "-"
                share_verdict = verdicts.cell(gflops / fma >= TARGET_FMA_SHARE if gflops and fma else None)
            else:
                target = TARGET_DNNL_BATCH1 if shape[3] == 1 else TARGET_DNNL
                dnnl_verdict = verdicts.cell(r_dnnl <= target if r_dnnl is not None else None, f"≤{target}")
                share_verdict = "-"
            rows.append([shape_name(shape), mode, fmt_ms(mine), fmt_ms(dnnl), fmt_ms(torch), fmt(gflops, ".1f"),
                         fmt(r_dnnl, ".2f"), fmt(ratio(mine, torch), ".2f"),
                         fmt(100 * gflops / sg if gflops and sg else None, ".0f", "%"),
                         fmt(100 * gflops / fma if gflops and fma else None, ".0f", "%"),
                         fmt(floor, ".2f") if shape[3] == 1 else "-", dnnl_verdict, share_verdict,
                         isa or "n/a", dnnl_impl(dnnl, mode)])
    return header, rows, verdicts


def bf16_table(suite, modes, best, peaks, bandwidth):
    """The bf16 table: lstm --precision bf16 against oneDNN bf16 and against lstm fp32."""
    header = ["cell I/H/B/T", "mode", "lstm bf16 ms", "oneDNN bf16 ms", "lstm fp32 ms", "bf16/oneDNN",
              "fp32/bf16", "lstm bf16 GFLOP/s", "% bf16 peak", "W_hh floor ms", f"≤{TARGET_BF16_DNNL}×oneDNN",
              f"≥{TARGET_BF16_SPEEDUP}× fp32", "lstm isa", "oneDNN impl"]
    verdicts, rows = Verdicts(), []
    for shape in suite:
        for mode in modes:
            mine, dnnl, fp32 = (best.get((shape, mode, p)) for p in ("lstm", "dnnl", "lstm_fp32"))
            gflops = flops(*shape, mode) / (mine[0] * 1e6) if mine else None
            isa = mine[2].get("isa", "?") if mine else None
            peak = peak_of(peaks, mine[1], BF16_PEAK_KEY.get(isa, "")) if mine else None
            floor = bandwidth_floor_ms(shape, mode, mine[1], 2, bandwidth) if mine and shape[3] == 1 else None
            r_dnnl = ratio(mine, dnnl)
            speedup = ratio(fp32, mine)
            big = is_big(shape)
            rows.append([shape_name(shape), mode, fmt_ms(mine), fmt_ms(dnnl), fmt_ms(fp32), fmt(r_dnnl, ".2f"),
                         fmt(speedup, ".2f"), fmt(gflops, ".1f"),
                         fmt(100 * gflops / peak if gflops and peak else None, ".0f", "%"),
                         fmt(floor, ".2f") if shape[3] == 1 else "-",
                         verdicts.cell(r_dnnl <= TARGET_BF16_DNNL if r_dnnl is not None else None) if big else "-",
                         verdicts.cell(speedup >= TARGET_BF16_SPEEDUP if speedup is not None else None)
                         if big else "-", isa or "n/a", dnnl_impl(dnnl, mode)])
    return header, rows, verdicts


def int8_table(suite, modes, best, bandwidth):
    """The int8 table (inference only): lstm --precision int8 against oneDNN's u8s8 LSTM, PyTorch's
    dynamic quantized LSTM/GRU and lstm fp32."""
    header = ["cell I/H/B/T", "mode", "lstm int8 ms", "oneDNN int8 ms", "PyTorch int8 ms", "lstm fp32 ms",
              "int8/oneDNN", "int8/PyTorch", "fp32/int8", "lstm int8 GOP/s", "W_hh floor ms",
              f"≤{TARGET_INT8_DNNL}×oneDNN", f"≤{TARGET_INT8_TORCH}×PyTorch", "fp32/int8 target", "lstm isa",
              "oneDNN impl"]
    verdicts, rows = Verdicts(), []
    for shape in suite:
        for mode in (m for m in modes if m == "infer"):
            mine, dnnl, torch, fp32 = (best.get((shape, mode, p)) for p in ("lstm", "dnnl", "torch", "lstm_fp32"))
            gops = flops(*shape, mode) / (mine[0] * 1e6) if mine else None
            floor = bandwidth_floor_ms(shape, mode, mine[1], 1, bandwidth) if mine and shape[3] == 1 else None
            r_dnnl, r_torch, speedup = ratio(mine, dnnl), ratio(mine, torch), ratio(fp32, mine)
            is_lstm = shape[0] == "lstm"
            target = TARGET_INT8_SPEEDUP.get(tuple(shape))
            rows.append([shape_name(shape), mode, fmt_ms(mine), fmt_ms(dnnl), fmt_ms(torch), fmt_ms(fp32),
                         fmt(r_dnnl, ".2f"), fmt(r_torch, ".2f"), fmt(speedup, ".2f"), fmt(gops, ".1f"),
                         fmt(floor, ".2f") if shape[3] == 1 else "-",
                         verdicts.cell(r_dnnl <= TARGET_INT8_DNNL if r_dnnl is not None else None) if is_lstm else "-",
                         verdicts.cell(r_torch <= TARGET_INT8_TORCH if r_torch is not None else None)
                         if is_lstm else "-",
                         verdicts.cell(speedup >= target if speedup is not None else None, f"≥{target}")
                         if target else "-",
                         mine[2].get("isa", "?") if mine else "n/a", dnnl_impl(dnnl, mode)])
    return header, rows, verdicts


def text_table(header, rows):
    widths = [max(len(r[c]) for r in [header] + rows) for c in range(len(header))]
    line = lambda r: "  ".join(v.rjust(w) if 2 <= c < len(r) - 2 else v.ljust(w)
                               for c, (v, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if c < 2 or c >= len(header) - 2 else "---:" for c in range(len(header))) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
