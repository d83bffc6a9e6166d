"""Checks of the bench/ tools: fma_peak's JSON against /proc/cpuinfo, dnnl_rnn_bench's bf16 primitive,
the suite tables' arithmetic against hand calculation, and a run_suite.py smoke run (CTest: bench_tools)."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import suite_tables as tables  # noqa: E402

BUILD = os.environ.get("LSTM_BENCH_BUILD_DIR", os.path.join(HERE, "..", "build"))
FMA_PEAK = os.path.join(BUILD, "bench", "fma_peak")
DNNL_BENCH = os.path.join(BUILD, "bench", "dnnl_rnn_bench")


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def fma_json():
    if not os.access(FMA_PEAK, os.X_OK):
        pytest.skip(f"{FMA_PEAK} not built")
    proc = run([FMA_PEAK, "--ms", "2", "--repeats", "1", "--sizes", "64K,1M", "--json"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_fma_peak_measures_what_cpuinfo_lists(fma_json):
    flags = cpu_flags()
    expected = {"gflops_fma256": {"avx2", "fma"}, "gflops_fma512": {"avx512f", "avx512bw"},
                "gflops_bf16_dot": {"avx512_bf16"}, "gops_vnni": {"avx512_vnni"}}
    for key, needs in expected.items():
        if needs <= flags:
            assert fma_json[key] > 0, key
        else:
            assert fma_json[key] is None, key
    if not {"amx_tile", "amx_bf16"} <= flags:
        assert fma_json["gflops_amx_bf16"] is None
    elif fma_json["amx_permission"]:
        assert fma_json["gflops_amx_bf16"] > 0


def test_fma_peak_json_is_consistent(fma_json):
    fp32 = [fma_json[k] for k in ("gflops_fma256", "gflops_fma512") if fma_json[k]]
    assert fma_json["gflops_peak"] == pytest.approx(max(fp32), abs=1e-3) if fp32 else fma_json["gflops_peak"] is None
    assert sorted(fma_json["bandwidth_gbs"]) == ["1MiB", "64KiB"]
    assert all(v > 0 for v in fma_json["bandwidth_gbs"].values())
    assert 0.3 < fma_json["ghz_estimate"] < 10
    if fma_json["gflops_fma512"]:
        # Two 512-bit FMA ports at most: 64 flops per cycle (at the scalar clock; AVX-512 may run slower).
        assert 4 < fma_json["fma512_flops_per_cycle_per_core"] < 72


def test_fma_peak_times_a_line_between_two_cpus(fma_json):
    assert fma_json["core_round_trip_ns"] is None  # one thread: nobody to answer
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU: no round trip between two")
    proc = run([FMA_PEAK, "--threads", "2", "--ms", "2", "--repeats", "1", "--sizes", "none", "--json"])
    assert proc.returncode == 0, proc.stderr
    # Between two cores a line takes tens of nanoseconds at least (one L3) and microseconds at
    # most (another socket); a loop without the answering thread would not come back at all.
    assert 5 < json.loads(proc.stdout)["core_round_trip_ns"] < 20000
    proc = run([FMA_PEAK, "--threads", "2", "--repeats", "1", "--round-trip", "--json"])
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads(proc.stdout)) == ["core_round_trip_ns", "peer"]


@pytest.mark.parametrize("args, message", [(["--sizes", "5K"], "multiples of 4 KiB"),
                                           (["--sizes", "4X"], "unknown unit"),
                                           (["--threads", "0"], "must be positive"),
                                           (["--threads", "100000"], "CPUs this process may use"),
                                           (["--round-trip"], "needs --threads 2 or more"),
                                           (["--bogus", "1"], "unknown option")])
def test_fma_peak_rejects_bad_options(args, message):
    if not os.access(FMA_PEAK, os.X_OK):
        pytest.skip(f"{FMA_PEAK} not built")
    proc = run([FMA_PEAK] + args)
    assert proc.returncode == 1 and proc.stdout == ""
    assert message in proc.stderr and proc.stderr.startswith("fma_peak: ")


def dnnl_json(*args):
    if not os.access(DNNL_BENCH, os.X_OK):
        pytest.skip(f"{DNNL_BENCH} not built (oneDNN missing)")
    proc = run([DNNL_BENCH, "--input-size", "32", "--hidden-size", "32", "--batch", "4", "--seq-len", "3",
                "--iters", "1", "--warmup", "0", "--json"] + list(args))
    return proc, (json.loads(proc.stdout) if proc.returncode == 0 else None)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dnnl_bench_bf16_train_reports_its_primitive(cell):
    proc, obj = dnnl_json("--cell", cell, "--mode", "train", "--precision", "bf16")
    if proc.returncode != 0:  # a CPU without AVX-512: oneDNN 2.6 has no bf16 RNN there
        assert "avx512f" not in cpu_flags() and "no bf16 " + cell in proc.stderr
        return
    assert obj["precision"] == "bf16" and obj["impl"] and obj["impl_backward"] and obj["ms_median"] > 0


def test_dnnl_bench_names_the_cap_when_bf16_is_impossible():
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2")
    if not os.access(DNNL_BENCH, os.X_OK):
        pytest.skip(f"{DNNL_BENCH} not built (oneDNN missing)")
    proc = subprocess.run([DNNL_BENCH, "--precision", "bf16", "--seq-len", "2", "--iters", "1"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "ONEDNN_MAX_CPU_ISA=AVX2" in proc.stderr and proc.stdout == ""


def test_bandwidth_floor_by_hand():
    # lstm H=256: W_hh is 4·256·256 fp32 = 1 MiB; read once per step for 100 steps at 100 GB/s.
    bw = {1: {"256KiB": 400.0, "1MiB": 100.0, "4MiB": 50.0}, 2: {"256KiB": 300.0, "1MiB": 150.0}}
    shape = ("lstm", 256, 256, 1, 100)
    assert tables.bandwidth_floor_ms(shape, "infer", 1, 4, bw) == pytest.approx(1048576 * 100 / 100e9 * 1e3)
    assert tables.bandwidth_floor_ms(shape, "train", 1, 4, bw) == pytest.approx(2 * 1048576 * 100 / 100e9 * 1e3)
    # Two threads hold 512 KiB each: the 1 MiB probe (150 GB/s summed over both threads).
    assert tables.bandwidth_floor_ms(shape, "infer", 2, 4, bw) == pytest.approx(1048576 * 100 / 150e9 * 1e3)
    # bf16, GRU (G = 3): 3·256·256·2 = 384 KiB → the 1 MiB probe.
    gru = ("gru", 256, 256, 1, 100)
    assert tables.bandwidth_floor_ms(gru, "infer", 1, 2, bw) == pytest.approx(393216 * 100 / 100e9 * 1e3)
    # Larger than every probe: the largest one.
    big = ("lstm", 1024, 1024, 1, 25)
    assert tables.bandwidth_floor_ms(big, "infer", 1, 4, bw) == pytest.approx(16 * 1048576 * 25 / 50e9 * 1e3)
    assert tables.bandwidth_floor_ms(big, "infer", 3, 4, bw) is None  # no probe at that thread count


def test_fp32_table_targets_by_hand():
    big, small, one = ("lstm", 512, 512, 64, 50), ("lstm", 128, 128, 32, 100), ("lstm", 256, 256, 1, 100)
    # Forward FLOPs of `big`: 2·4·512·1024·64·50 = 13.42e9, so 100 ms is 134.2 GFLOP/s.
    best = {(big, "infer", "lstm"): (100.0, 2, {"isa": "avx512"}),
            (big, "infer", "dnnl"): (90.0, 2, {"impl": "brgemm"}),
            (small, "infer", "lstm"): (10.0, 1, {"isa": "avx512"}),
            (small, "infer", "dnnl"): (9.0, 1, {"impl": "brgemm"}),
            (one, "infer", "lstm"): (1.0, 1, {"isa": "avx512"}),
            (one, "infer", "dnnl"): (2.0, 1, {"impl": "brgemm"})}
    peaks = {1: {"gflops_peak": 100.0}, 2: {"gflops_peak": 150.0, "gflops_fma256": 80.0}}
    header, rows, verdicts = tables.fp32_table([big, small, one], ["infer"], best, peaks, {}, {2: 268.4}, 2)
    col = {name: i for i, name in enumerate(header)}
    assert rows[0][col["lstm GFLOP/s"]] == "134.2"
    assert rows[0][col["% FMA peak"]] == "89%" and rows[0][col["% sgemm"]] == "50%"
    assert rows[0][col["≥85% FMA"]] == "ok" and rows[0][col["≤1.0×oneDNN"]] == "-"
    assert rows[1][col["lstm/oneDNN"]] == "1.11" and rows[1][col["≤1.0×oneDNN"]] == "MISS (≤1.0)"
    assert rows[2][col["lstm/oneDNN"]] == "0.50" and rows[2][col["≤1.0×oneDNN"]] == "ok (≤0.6)"
    assert (verdicts.met, verdicts.checked) == (2, 3)
    assert rows[0][col["lstm ms"]] == "100.00 (2t)"
    # A run with the two CPUs far apart (run_suite's round trips before and after it) says so.
    best[(big, "infer", "dnnl")] = (90.0, 2, {"impl": "brgemm", "placement": "far"})
    _, rows, _ = tables.fp32_table([big], ["infer"], best, peaks, {}, {}, 2)
    assert rows[0][col["oneDNN ms"]] == "90.00 (2t, far)"
    # On the avx2 path the 256-bit FMA peak is the reference: 134.2 / 80 = 168%.
    best[(big, "infer", "lstm")] = (100.0, 2, {"isa": "avx2"})
    _, rows, _ = tables.fp32_table([big], ["infer"], best, peaks, {}, {}, 2)
    assert rows[0][col["% FMA peak"]] == "168%"


def test_bf16_table_targets_by_hand():
    big = ("gru", 512, 512, 64, 50)  # forward FLOPs 2·3·512·1024·64·50 = 10.07e9; train 3×
    best = {(big, "train", "lstm"): (100.0, 1, {"isa": "amx"}),
            (big, "train", "dnnl"): (120.0, 1, {"impl": "brgemm", "impl_backward": "ref"}),
            (big, "train", "lstm_fp32"): (170.0, 2, {"isa": "amx"})}
    peaks = {1: {"gflops_amx_bf16": 3020.0, "gflops_bf16_dot": 100.0}}
    header, rows, verdicts = tables.bf16_table([big], ["train"], best, peaks, {})
    row = dict(zip(header, rows[0]))
    assert row["bf16/oneDNN"] == "0.83" and row["≤0.9×oneDNN"] == "ok"
    assert row["fp32/bf16"] == "1.70" and row["≥1.8× fp32"] == "MISS"
    assert row["lstm bf16 GFLOP/s"] == "302.0" and row["% bf16 peak"] == "10%"
    assert row["oneDNN impl"] == "brgemm + ref"
    assert (verdicts.met, verdicts.checked) == (1, 2)


def test_run_suite_smoke_with_onednn_only(tmp_path):
    if not os.access(DNNL_BENCH, os.X_OK) or not os.access(FMA_PEAK, os.X_OK):
        pytest.skip("fma_peak or dnnl_rnn_bench not built")
    md = tmp_path / "suite.md"
    proc = run([sys.executable, os.path.join(HERE, "run_suite.py"), "--build-dir", BUILD, "--quick", "--shapes", "2",
                "--modes", "infer", "--threads", "1", "--only", "dnnl", "--markdown", str(md)])
    assert proc.returncode == 0, proc.stderr
    assert "lstm 256/256/1/100" in proc.stdout and "FMA peak, 1 thread(s)" in proc.stdout
    assert "| lstm 256/256/1/100 | infer |" in md.read_text()


def test_dnnl_bench_int8_lstm_is_int8_and_close_to_its_f32_primitive():
    proc, obj = dnnl_json("--cell", "lstm", "--mode", "infer", "--precision", "int8")
    assert proc.returncode == 0, proc.stderr
    assert obj["precision"] == "int8" and obj["impl"] and obj["ms_median"] > 0
    # Against oneDNN's f32 primitive on the same weights and input: 7-bit data and 8-bit per-row
    # weights give about 1e-2 on outputs in (-1, 1); a wrong scale convention (1/s) or shift gives O(1),
    # and 0 would mean an f32 primitive was timed.
    assert 1e-4 < obj["max_abs_err_vs_fp32"] < 0.06


def test_dnnl_bench_int8_gru_and_train_are_clear_errors():
    proc, _ = dnnl_json("--cell", "gru", "--mode", "infer", "--precision", "int8")
    if proc.returncode != 0:  # oneDNN 2.6 has no int8 lbr_gru
        assert proc.stdout == "" and "no int8 gru infer primitive" in proc.stderr
    proc, _ = dnnl_json("--cell", "lstm", "--mode", "train", "--precision", "int8")
    assert proc.returncode == 1 and proc.stdout == "" and "inference only" in proc.stderr


def test_torch_bench_int8_is_dynamic_quantization():
    cmd = ["/usr/bin/python3", os.path.join(HERE, "torch_rnn_bench.py"), "--input-size", "32", "--hidden-size", "32",
           "--batch", "4", "--seq-len", "3", "--iters", "1", "--warmup", "0", "--json", "--precision", "int8"]
    if run(["/usr/bin/python3", "-c", "import torch"]).returncode != 0:
        pytest.skip("/usr/bin/python3 has no torch")
    for cell in ("lstm", "gru"):
        proc = run(cmd + ["--cell", cell])
        assert proc.returncode == 0, proc.stderr
        obj = json.loads(proc.stdout)
        assert obj["precision"] == "int8" and ".quantized.dynamic." in obj["quantized_module"]
        assert obj["quantized_module"].endswith(cell.upper()) and 1e-4 < obj["max_abs_err_vs_fp32"] < 0.1
    proc = run(cmd + ["--mode", "train"])
    assert proc.returncode == 2 and "inference only" in proc.stderr


def test_int8_table_targets_by_hand():
    b1, big, gru = ("lstm", 1024, 1024, 1, 25), ("lstm", 512, 512, 64, 50), ("gru", 512, 512, 64, 50)
    # Forward ops of `b1`: 2·4·1024·2048·1·25 = 419.4e6, so 2 ms is 209.7 GOP/s.
    best = {(b1, "infer", "lstm"): (2.0, 1, {"isa": "amx"}),
            (b1, "infer", "dnnl"): (2.5, 1, {"impl": "brgemm"}),
            (b1, "infer", "torch"): (10.0, 2, {}),
            (b1, "infer", "lstm_fp32"): (5.0, 2, {"isa": "amx"}),
            (big, "infer", "lstm"): (20.0, 2, {"isa": "amx"}),
            (big, "infer", "dnnl"): (18.0, 2, {"impl": "brgemm"}),
            (big, "infer", "torch"): (50.0, 2, {}),
            (big, "infer", "lstm_fp32"): (55.0, 2, {"isa": "amx"}),
            (gru, "infer", "lstm"): (15.0, 2, {"isa": "amx"}),
            (gru, "infer", "lstm_fp32"): (40.0, 2, {"isa": "amx"})}
    # W_hh of b1 in int8: 4·1024·1024 bytes = 4 MiB, read 25 times at the 4 MiB probe's 50 GB/s.
    bw = {1: {"1MiB": 100.0, "4MiB": 50.0}}
    header, rows, verdicts = tables.int8_table([b1, big, gru], ["infer", "train"], best, bw)
    assert len(rows) == 3  # train rows are never made
    r = [dict(zip(header, row)) for row in rows]
    assert r[0]["int8/oneDNN"] == "0.80" and r[0]["≤1.0×oneDNN"] == "ok"
    assert r[0]["int8/PyTorch"] == "0.20" and r[0]["≤0.3×PyTorch"] == "ok"
    assert r[0]["fp32/int8"] == "2.50" and r[0]["fp32/int8 target"] == "MISS (≥3.0)"
    assert r[0]["lstm int8 GOP/s"] == "209.7"
    assert r[0]["W_hh floor ms"] == f"{4 * 1048576 * 25 / 50e9 * 1e3:.2f}"
    assert r[1]["int8/oneDNN"] == "1.11" and r[1]["≤1.0×oneDNN"] == "MISS"
    assert r[1]["int8/PyTorch"] == "0.40" and r[1]["≤0.3×PyTorch"] == "MISS"
    assert r[1]["fp32/int8"] == "2.75" and r[1]["fp32/int8 target"] == "ok (≥2.5)" and r[1]["W_hh floor ms"] == "-"
    # GRU: no oneDNN int8 peer and no PyTorch target (the targets are for LSTM).
    assert r[2]["oneDNN int8 ms"] == "n/a" and r[2]["≤1.0×oneDNN"] == "-" and r[2]["≤0.3×PyTorch"] == "-"
    assert r[2]["fp32/int8"] == "2.67" and r[2]["fp32/int8 target"] == "-"
    assert (verdicts.met, verdicts.checked) == (3, 6)


def test_run_suite_int8_smoke_skips_train(tmp_path):
    if not os.access(DNNL_BENCH, os.X_OK) or not os.access(FMA_PEAK, os.X_OK):
        pytest.skip("fma_peak or dnnl_rnn_bench not built")
    md = tmp_path / "suite.md"
    proc = run([sys.executable, os.path.join(HERE, "run_suite.py"), "--build-dir", BUILD, "--quick", "--shapes", "2",
                "--threads", "1", "--only", "dnnl", "--precision", "int8", "--markdown", str(md)])
    assert proc.returncode == 0, proc.stderr
    assert "train rows skipped" in proc.stderr and "oneDNN int8 ms" in proc.stdout
    text = md.read_text()
    assert "| lstm 256/256/1/100 | infer |" in text and "| train |" not in text and "precision int8" in text


def test_onednn_cap_matches_lstm_int8_paths():
    import argparse
    import run_suite
    cap = lambda isa, precision: run_suite.onednn_cap(argparse.Namespace(isa=isa, precision=precision))
    assert cap("avx512", "fp32") == "AVX512_CORE" and cap("avx2", "bf16") == "AVX2"
    assert cap("avx512", "int8") == "AVX512_CORE_VNNI" and cap("avx2", "int8") == "AVX2_VNNI"
    assert cap("amx", "int8") == "AVX512_CORE_AMX" and cap("scalar", "int8") == "SSE41"
