"""The ReLU backward pass as one loop: ``dx = 0 where out <= 0, else dout``.

Written that way round so that a NaN output passes its gradient, as in PyTorch. NumPy's
``np.where(out <= 0, 0, dout)`` (:func:`minitorch_cv.reference.relu_backward`) makes a
boolean temporary and a second pass; this loop reads each number once.
"""

from ._jit import compile_kernel

__all__ = ["relu_backward_loops", "relu_backward_compiled"]


def relu_backward_loops(dout, out, dx):
    """dx[i] = 0 if out[i] <= 0 else dout[i], over flattened contiguous arrays of one size
    (checked once, before the loop)."""
    if dout.size != dx.size or out.size != dx.size:
        raise ValueError("relu_backward: dout, out and dx must have the same size")
    dout_flat, out_flat, dx_flat = dout.reshape(-1), out.reshape(-1), dx.reshape(-1)
    zero = dx_flat.dtype.type(0)
    for i in range(dx_flat.size):
        dx_flat[i] = zero if out_flat[i] <= 0 else dout_flat[i]
    return dx


relu_backward_compiled = compile_kernel(relu_backward_loops)
