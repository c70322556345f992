"""The ReLU backward pass as one loop, reading each number once (NumPy's ``np.where`` in
:func:`minitorch_cv.reference.relu_backward` makes a boolean temporary and a second pass).
"""

from ._jit import compile_kernel

__all__ = ["relu_backward_loops", "relu_backward_compiled"]


def relu_backward_loops(dout, out, dx):
    """dx[i] = 0 if out[i] <= 0 else dout[i] (a NaN output passes its gradient, as in
    PyTorch), over flattened contiguous arrays of one size (checked once, first)."""
    if dout.size != dx.size or out.size != dx.size:
        raise ValueError("relu_backward: dout, out and dx must have the same size")
    dout_flat, out_flat, dx_flat = dout.reshape(-1), out.reshape(-1), dx.reshape(-1)
    zero = dx_flat.dtype.type(0)
    for i in range(dx_flat.size):
        dx_flat[i] = zero if out_flat[i] <= 0 else dout_flat[i]
    return dx


relu_backward_compiled = compile_kernel(relu_backward_loops)
