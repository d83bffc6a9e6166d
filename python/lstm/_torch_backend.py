"""What lstm.torch runs on: the C++ network whose flat parameter buffer the module's parameters
view (no copy), a pool of workspaces, and the autograd Function over forward and backward.
Written for a low per-call cost (batch 1 calls are dominated by it): shapes are computed once
per network, a call is one small object, gradients are NumPy views wrapped without copies."""
import itertools

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import _lstm

_CLASSES = {
    torch.float32: (_lstm.Network32, _lstm.Workspace32),
    torch.float64: (_lstm.Network64, _lstm.Workspace64),
}
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
_POOL_LIMIT = 4  # idle workspaces kept per network
_from_numpy = torch.from_numpy


class _Slot:
    """One workspace and the ticket of the call whose training forward it holds (0 when idle;
    a number, not the call, so that no reference cycle delays giving it back)."""
    __slots__ = ("workspace", "ticket")

    def __init__(self, workspace):
        self.workspace = workspace
        self.ticket = 0


class Backend:
    """A C++ network of one dtype, the module parameters' flat buffer as a tensor, and its
    workspaces. `addresses` are where each parameter must lie for the views to be current."""

    def __init__(self, config, variants, dtype):
        network_class, workspace_class = _CLASSES[dtype]
        # (cell, input, hidden, layers, bias, bidirectional, proj, peephole, dropout), and the
        # cell variants by name (coupled_gates, reset_before, layer_norm, zoneout, residual)
        self.config = config
        self.variants = variants
        self.network = network_class(*config, **variants)
        self.dtype = dtype
        self.numpy_dtype = _NUMPY_DTYPES[dtype]
        self.workspace_class = workspace_class
        self.flat = torch.from_numpy(self.network.parameters())  # [num_parameters], shares memory
        self.num_parameters = self.network.num_parameters
        self.layout = [(name, tuple(shape), offset, numel)
                       for name, shape, offset, numel in self.network.layout()]
        base = self.flat.data_ptr()
        self.addresses = [base + offset * self.flat.element_size() for _, _, offset, _ in self.layout]
        self.idle = []
        self.tickets = itertools.count(1)  # (next() is atomic: calls may come from several threads)
        self._without_randomness = None
        cell, _, hidden, layers, _, bidirectional, proj, _, _ = config
        directions = 2 if bidirectional else 1
        self.is_lstm = cell == "lstm"
        self.rows = layers * directions         # L·D
        self.hidden = hidden                    # H (c's width)
        self.h_width = proj or hidden           # H, or P with projection
        self.y_width = directions * self.h_width
        # (offset, end, shape) of each parameter's gradient in the flat gradient buffer.
        self.grad_spans = [(offset, offset + numel, shape) for _, shape, offset, numel in self.layout]

    def views(self):
        return [self.flat[offset:offset + numel].view(shape) for _, shape, offset, numel in self.layout]

    def take_slot(self):
        try:  # (not `if self.idle`: another thread may take the last one in between)
            return self.idle.pop()
        except IndexError:
            return _Slot(self.workspace_class())

    def give_back(self, slot):
        slot.ticket = 0
        if len(self.idle) < _POOL_LIMIT:
            self.idle.append(slot)

    def run(self, network, slot, training, steps, batch, x, lengths, h0, c0, seed):
        """One forward of `network` (this backend's, or its copy without dropout) into new
        outputs: (y [T, B, D·Hout], h_n [L·D, B, Hout], c_n [L·D, B, H] or None). x [T, B, I],
        h0, c0 and lengths [B] (int64) are dense CPU tensors of the right dtype, or None."""
        dtype = self.dtype
        y = torch.empty((steps, batch, self.y_width), dtype=dtype)
        h_n = torch.empty((self.rows, batch, self.h_width), dtype=dtype)
        c_n = torch.empty((self.rows, batch, self.hidden), dtype=dtype) if self.is_lstm else None
        network.forward_raw(slot.workspace, training, steps, batch, x.data_ptr(),
                            0 if lengths is None else lengths.data_ptr(),
                            0 if h0 is None else h0.data_ptr(), 0 if c0 is None else c0.data_ptr(),
                            y.data_ptr(), h_n.data_ptr(), 0 if c_n is None else c_n.data_ptr(), seed)
        return y, h_n, c_n

    def infer(self, training, steps, batch, x, lengths, h0, c0, seed):
        """A forward that keeps nothing for backward (no_grad, or nothing requires a gradient)."""
        slot = self.take_slot()
        try:
            return self.run(self.network, slot, training, steps, batch, x, lengths, h0, c0, seed)
        finally:
            self.give_back(slot)

    def network_without_randomness(self):
        """The same parameters in a network without dropout and zoneout (eval mode with
        gradients), copied now."""
        if self.config[-1] == 0 and self.variants.get("zoneout", 0) == 0:
            return self.network
        if self._without_randomness is None:
            self._without_randomness = type(self.network)(*self.config[:-1], 0.0,
                                                          **dict(self.variants, zoneout=0.0))
        self._without_randomness.parameters()[:] = self.network.parameters()
        return self._without_randomness


class Call:
    """One forward call's shapes and buffers; run() can be repeated (backward recomputes when
    the workspace was reused since, e.g. a second backward with retain_graph=True). A call that
    holds a workspace gives it back to the pool when it is freed (a graph dropped unused)."""
    __slots__ = ("backend", "network", "steps", "batch", "lengths", "seed", "slot", "ticket")

    def __init__(self, backend, network, steps, batch, lengths, seed):
        self.backend = backend
        self.network = network
        self.steps, self.batch = steps, batch
        self.lengths = lengths  # int64 [B] contiguous, or None
        self.seed = seed
        self.slot = None
        self.ticket = 0

    def holds_workspace(self):
        return self.slot is not None and self.slot.ticket == self.ticket

    def __del__(self):
        if self.holds_workspace():
            self.backend.give_back(self.slot)

    def run(self, training, x, h0, c0, keep=False):
        """Forward; with keep, the workspace stays with this call for backward."""
        backend = self.backend
        slot = backend.take_slot()
        try:
            outputs = backend.run(self.network, slot, training, self.steps, self.batch, x,
                                  self.lengths, h0, c0, self.seed)
        except BaseException:
            backend.give_back(slot)
            raise
        if keep:
            if self.holds_workspace():
                backend.give_back(self.slot)
            slot.ticket = self.ticket = next(backend.tickets)
            self.slot = slot
        else:
            backend.give_back(slot)
        return outputs


class RecurrentFunction(torch.autograd.Function):
    """(x [T,B,I], h0, c0, *parameters) -> (y, h_n[, c_n]) through lstm's forward and BPTT."""

    @staticmethod
    def forward(ctx, call, x, h0, c0, *parameters):
        ctx.set_materialize_grads(False)
        y, h_n, c_n = call.run(True, x, h0, c0, keep=True)
        ctx.call = call
        ctx.save_for_backward(x, h0, c0)
        return (y, h_n) if c_n is None else (y, h_n, c_n)

    @staticmethod
    def backward(ctx, dy, dh_n, dc_n=None):
        if torch.is_grad_enabled():  # create_graph=True: a clear error if differentiated again
            return _backward_once_differentiable(ctx, dy, dh_n, dc_n)
        return _backward(ctx, dy, dh_n, dc_n)


def _backward(ctx, dy, dh_n, dc_n):
    """Backpropagation through time for RecurrentFunction, with gradient mode off."""
    call = ctx.call
    x, h0, c0 = ctx.saved_tensors  # (also checks that none was modified in place since)
    if not call.holds_workspace():  # the workspace was reused: recompute
        call.run(True, x, h0, c0, keep=True)
    slot = call.slot
    backend = call.backend
    needs = ctx.needs_input_grad
    # Zeroed by NumPy (calloc): torch would fill a buffer this size with its OpenMP threads,
    # which then spin on the cores our own threads are about to need. The parameters'
    # gradients are NumPy views of it, wrapped without a copy.
    grad_params = np.zeros(backend.num_parameters, backend.numpy_dtype)
    grad_x = torch.empty_like(x) if needs[1] else None
    grad_h0 = grad_c0 = None
    if needs[2]:
        grad_h0 = torch.empty((backend.rows, call.batch, backend.h_width), dtype=backend.dtype)
    if needs[3] and backend.is_lstm:
        grad_c0 = torch.empty((backend.rows, call.batch, backend.hidden), dtype=backend.dtype)
    # (contiguous copies, if any, must stay alive during the call)
    dy = None if dy is None else dy.contiguous()
    dh_n = None if dh_n is None else dh_n.contiguous()
    dc_n = None if dc_n is None else dc_n.contiguous()
    call.network.backward_raw(
        slot.workspace, 0 if dy is None else dy.data_ptr(), 0 if dh_n is None else dh_n.data_ptr(),
        0 if dc_n is None else dc_n.data_ptr(), grad_params.ctypes.data,
        0 if grad_x is None else grad_x.data_ptr(), 0 if grad_h0 is None else grad_h0.data_ptr(),
        0 if grad_c0 is None else grad_c0.data_ptr())
    call.slot = None
    backend.give_back(slot)  # a second backward (retain_graph) recomputes
    grads = [_from_numpy(grad_params[begin:end].reshape(shape)) if need else None
             for need, (begin, end, shape) in zip(needs[4:], backend.grad_spans)]
    return (None, grad_x, grad_h0, grad_c0, *grads)


# Second derivatives are not implemented: with create_graph=True, differentiating the result
# again raises a clear error instead of giving zeros.
_backward_once_differentiable = once_differentiable(_backward)
