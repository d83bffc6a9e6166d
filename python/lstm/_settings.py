"""Process-wide settings: threads and matrix-product precision."""
from . import _lstm


def set_num_threads(threads):
    """Threads the library uses for every later call (0 or less: all cores)."""
    if not isinstance(threads, int) or isinstance(threads, bool):
        raise TypeError(f"threads: expected an int, got {type(threads).__name__}")
    _lstm.set_num_threads(threads)


def set_precision(precision):
    """'fp32' (default) or 'bf16' (recurrent products in bfloat16 on AMX; lstm.Error if the CPU
    cannot). Applies to every later call, as the CLI's --precision."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision: expected 'fp32' or 'bf16', got {precision!r}")
    _lstm.set_precision(precision)


def precision():
    return _lstm.precision()
