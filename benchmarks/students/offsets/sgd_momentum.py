def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    velocity_new = momentum * velocity + g
    return (w - lr * velocity_new).astype(w.dtype), velocity_new.astype(w.dtype)
