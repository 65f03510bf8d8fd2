"""Plain-NumPy references for the spectra kernels, written the obvious way (no fusion)."""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla


def network_output(X, W, a, act):
    return act(X @ W) @ a / np.sqrt(W.shape[1])


def loss(X, y, W, a, act):
    r = network_output(X, W, a, act) - y
    return 0.5 * np.mean(r**2)


def gradient(X, y, W, a, act):
    """grad_W L = -(1/(n sqrt N)) X^T [((y - f) a^T) * sigma'(X W)]."""
    n, N = X.shape[0], W.shape[1]
    Z = X @ W
    r = y - act(Z) @ a / np.sqrt(N)
    M = (r[:, None] * a[None, :]) * act.d1(Z)
    return -(X.T @ M) / (n * np.sqrt(N))


def step(X, y, W, a, act, eta):
    """W1 = W0 - eta sqrt(N) grad_W L."""
    return W - eta * np.sqrt(W.shape[1]) * gradient(X, y, W, a, act)


def features(X, W, act):
    return act(X @ W)


def gram(F, orientation):
    n, N = F.shape
    return F.T @ F / n if orientation == "feature" else F @ F.T / N


def eigvals(S):
    return np.linalg.eigvalsh(S)


def singular_values(A):
    return np.sort(sla.svdvals(A))


def ridge(F, y, lam):
    n, N = F.shape
    return np.linalg.solve(F.T @ F / n + lam * np.eye(N), F.T @ y / n)


def stieltjes(values, z):
    return np.mean(1.0 / (values[None, :] - np.asarray(z)[:, None]), axis=1)


def hermite(k, z):
    from numpy.polynomial import hermite_e

    c = np.zeros(k + 1)
    c[k] = 1.0
    return hermite_e.hermeval(z, c)


def ks_continuous(values, cdf):
    """Kolmogorov distance to a continuous cdf (no atoms)."""
    x = np.sort(values)
    m = x.size
    F = cdf(x)
    return max(np.max(np.arange(1, m + 1) / m - F), np.max(F - np.arange(m) / m))
