def linear_forward(x, w, b=None):
    out = x @ w.T
    if b is not None:
        out = out + b
    return out, (x, w, b)


def linear_backward(dout, cache):
    x, w, b = cache
    dx = dout @ w
    dw = dout.T @ x
    db = dout.sum(axis=0) if b is not None else None
    return dx, dw, db
