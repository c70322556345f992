import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                      momentum=0.1, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mu = x.mean(axis=axes)
        var = x.var(axis=axes)
        m = x.size // x.shape[1]
        running_mean *= 1 - momentum
        running_mean += momentum * mu
        running_var *= 1 - momentum
        running_var += momentum * var * m / (m - 1)
    else:
        mu, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu.reshape(shape)) * inv_std.reshape(shape)
    out = (gamma.reshape(shape) * x_hat + beta.reshape(shape)).astype(x.dtype)
    return out, (x_hat, gamma, inv_std, training, axes, shape)


def batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std, training, axes, shape = cache
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    g = dout * gamma.reshape(shape)
    if not training:
        return g * inv_std.reshape(shape), dgamma, dbeta
    dx = (g - g.mean(axis=axes, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) * inv_std.reshape(shape)
    return dx, dgamma, dbeta
