"""Process-wide settings: threads and matrix-product precision."""
from . import _lstm


def set_num_threads(threads):
    """Threads the library uses for every later call (0 or less: all cores)."""
    if not isinstance(threads, int) or isinstance(threads, bool):
        raise TypeError(f"threads: expected an int, got {type(threads).__name__}")
    _lstm.set_num_threads(threads)


def set_precision(precision):
    """'fp32' (default), 'bf16' (products in bfloat16 with float sums, on AVX512-BF16 or AMX;
    lstm.Error if the CPU has neither) or 'int8' (inference only: int8 weights, uint8 inputs and
    states, exact int32 sums; a backward raises lstm.Error). Applies to every later call, as the
    CLI's --precision."""
    if precision not in ("fp32", "bf16", "int8"):
        raise ValueError(f"precision: expected 'fp32', 'bf16' or 'int8', got {precision!r}")
    _lstm.set_precision(precision)


def precision():
    return _lstm.precision()
