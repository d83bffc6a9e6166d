"""What lstm.torch runs on: the C++ network whose flat parameter buffer the module's parameters
view (no copy), a pool of workspaces, and the autograd Function over forward and backward."""
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


class _Slot:
    """One workspace and the call whose training forward it holds (None when idle)."""
    __slots__ = ("workspace", "owner")

    def __init__(self, workspace):
        self.workspace = workspace
        self.owner = None


class Backend:
    """A C++ network of one dtype, the module parameters' flat buffer as a tensor, and its
    workspaces. `addresses` are where each parameter must lie for the views to be current."""

    def __init__(self, config, dtype, values=None):
        network_class, workspace_class = _CLASSES[dtype]
        self.config = config  # (cell, input, hidden, layers, bias, bidirectional, proj, peephole, dropout)
        self.network = network_class(*config)
        self.dtype = dtype
        self.workspace_class = workspace_class
        self.flat = torch.from_numpy(self.network.parameters())  # [num_parameters], shares memory
        self.layout = [(name, tuple(shape), offset, numel)
                       for name, shape, offset, numel in self.network.layout()]
        base = self.flat.data_ptr()
        self.addresses = [base + offset * self.flat.element_size() for _, _, offset, _ in self.layout]
        self.idle = []
        self._without_dropout = None

    def views(self):
        return [self.flat[offset:offset + numel].view(shape) for _, shape, offset, numel in self.layout]

    def take_slot(self):
        return self.idle.pop() if self.idle else _Slot(self.workspace_class())

    def give_back(self, slot):
        slot.owner = None
        if len(self.idle) < _POOL_LIMIT:
            self.idle.append(slot)

    def network_without_dropout(self):
        """The same parameters in a network with dropout 0 (eval mode with gradients), copied now."""
        if self.config[-1] == 0:
            return self.network
        if self._without_dropout is None:
            self._without_dropout = type(self.network)(*self.config[:-1], 0.0)
        self._without_dropout.parameters()[:] = self.network.parameters()
        return self._without_dropout


def _address(tensor):
    return 0 if tensor is None else tensor.data_ptr()


class Call:
    """One forward call's shapes and buffers; run() can be repeated (backward recomputes when
    the workspace was reused since, e.g. a second backward with retain_graph=True)."""

    def __init__(self, backend, network, steps, batch, lengths, seed):
        self.backend = backend
        self.network = network
        self.steps, self.batch = steps, batch
        self.lengths = lengths  # int64 [B] contiguous, or None
        self.seed = seed
        self.slot = None

    def output_shapes(self):
        cell, _, hidden, layers, _, bidirectional, proj, _, _ = self.backend.config
        directions = 2 if bidirectional else 1
        h_width = proj or hidden
        rows = layers * directions
        return ((self.steps, self.batch, directions * h_width), (rows, self.batch, h_width),
                (rows, self.batch, hidden) if cell == "lstm" else None)

    def run(self, training, x, h0, c0, keep=False):
        """Forward; with keep, the workspace stays with this call for backward."""
        y_shape, h_shape, c_shape = self.output_shapes()
        dtype = self.backend.dtype
        y = torch.empty(y_shape, dtype=dtype)
        h_n = torch.empty(h_shape, dtype=dtype)
        c_n = None if c_shape is None else torch.empty(c_shape, dtype=dtype)
        slot = self.backend.take_slot()
        try:
            self.network.forward_raw(slot.workspace, training, self.steps, self.batch, x.data_ptr(),
                                     _address(self.lengths), _address(h0), _address(c0),
                                     y.data_ptr(), h_n.data_ptr(), _address(c_n), self.seed)
        except BaseException:
            self.backend.give_back(slot)
            raise
        if keep:
            slot.owner = self
            self.slot = slot
        else:
            self.backend.give_back(slot)
        return y, h_n, c_n


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
    @once_differentiable  # second derivatives are not implemented: a clear error, not zeros
    def backward(ctx, dy, dh_n, dc_n=None):
        call = ctx.call
        x, h0, c0 = ctx.saved_tensors
        if call.slot is None or call.slot.owner is not call:  # the workspace was reused: recompute
            call.run(True, x, h0, c0, keep=True)
        y_shape, h_shape, c_shape = call.output_shapes()
        dtype = call.backend.dtype
        needs = ctx.needs_input_grad
        dy = None if dy is None else dy.contiguous()
        dh_n = None if dh_n is None else dh_n.contiguous()
        dc_n = None if dc_n is None else dc_n.contiguous()
        # Zeroed by NumPy (calloc): torch would fill a buffer this size with its OpenMP threads,
        # which then spin on the cores our own threads are about to need.
        grad_params = torch.from_numpy(np.zeros(call.network.num_parameters, _NUMPY_DTYPES[dtype]))
        grad_x = torch.empty_like(x) if needs[1] else None
        grad_h0 = torch.empty(h_shape, dtype=dtype) if needs[2] else None
        grad_c0 = torch.empty(c_shape, dtype=dtype) if c_shape is not None and needs[3] else None
        call.network.backward_raw(call.slot.workspace, _address(dy), _address(dh_n), _address(dc_n),
                                  grad_params.data_ptr(), _address(grad_x), _address(grad_h0),
                                  _address(grad_c0))
        call.backend.give_back(call.slot)  # a second backward (retain_graph) recomputes
        layout = call.backend.layout
        grads = [grad_params[offset:offset + numel].view(shape) if needs[4 + k] else None
                 for k, (_, shape, offset, numel) in enumerate(layout)]
        return (None, grad_x, grad_h0, grad_c0, *grads)
