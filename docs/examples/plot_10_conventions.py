"""
Conventions: a paper's gradient step, converted, is our gradient step
======================================================================

The papers write the same two-layer network with different scalings: GiantStep (Dandi et
al. 2023) stores the first layer as ``p x d``, uses ``f = sigma(Z W^T) a / sqrt(p)`` and a
learning rate ``eta = 10 sqrt(n p)``; spikewise uses ``W`` of shape ``d x N``,
``f(x) = a^T sigma(W^T x) / sqrt(N)`` and ``W1 = W0 - eta sqrt(N) grad_W L`` with
``L = (1/2n) sum (f - y)^2`` (see :mod:`spikewise.conventions`). A named preset converts the
paper's parameters into ours; here the step written the way the GiantStep notebook writes it
and our :func:`spikewise.spectra.gradient_step` on the converted parameters give the same
``W1`` to rounding, and the same singular values, over the Marchenko–Pastur bulk of ``W0``.

The GiantStep notebook takes ``eta = 10 sqrt(n p)``, which is ``eta = 10 sqrt(n)`` in ours: a
giant step whose update also reshapes the bulk. To stay in the ``eta = Theta(1)`` regime where
the bulk of ``W1`` is that of ``W0`` (Ba et al. 2022), this page takes ``eta = 8 sqrt(p)`` in
their convention, which the preset turns into ``eta = 8`` in ours.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import spikewise as sw
from spikewise.plot import overlay
from spikewise.solvers import MarchenkoPastur
from spikewise.spectra import gradient_step, singular_spectrum

SMALL = os.environ.get("SPIKEWISE_SIZE", "full") == "small"
n, d, p = (600, 300, 450) if SMALL else (2000, 1000, 1500)
rng = np.random.default_rng(0)

# %%
# The step in the paper's own variables (their W is p x d, their eta carries sqrt(p))
preset = sw.get_preset("dandi2023")
tanh = sw.get_activation("tanh")
Z = rng.standard_normal((n, d))
beta = rng.standard_normal(d)
beta /= np.linalg.norm(beta)
Y = np.tanh(Z @ beta)
W0_paper = rng.standard_normal((p, d)) / np.sqrt(d)
a0 = rng.standard_normal(p) / np.sqrt(p)
eta_paper = 8 * np.sqrt(p)
pre = Z @ W0_paper.T
f = np.tanh(pre) @ a0 / np.sqrt(p)
G = Z.T @ ((1 / np.sqrt(p)) * np.outer(Y - f, a0) * tanh.d1(pre)) / n
W1_paper = W0_paper + eta_paper * G.T

# %%
# The same step in our convention, on the converted parameters
ours = preset.to_ours(n=n, d=d, p=p, eta=eta_paper, W=W0_paper, a=a0)
print({k: (v.shape if isinstance(v, np.ndarray) else v) for k, v in ours.items()})
step = gradient_step(Z, Y, W=ours["W"], a=ours["a"], activation=tanh, eta0=ours["eta"])
diff = np.max(np.abs(step.W - W1_paper.T))
print(f"max |W1 (ours) - W1 (paper)^T| = {diff:.2e}")

# %%
# The spectra agree too: the singular values of W1 over the bulk of W0
spec = singular_spectrum(step.W, source="W1 (spikewise convention)",
                         params={"n": n, "d": d, "N": p, "eta": ours["eta"], "preset": preset.key})
bulk = MarchenkoPastur(ratio=d / p, scale=p / d).sqrt()
fig, ax = plt.subplots(figsize=(7, 4))
overlay(spec, bulk, ax=ax)
s_paper = np.linalg.svd(W1_paper, compute_uv=False)
ax.plot(s_paper[:3], np.zeros(3) + 0.05, "kx", label="GiantStep-convention W1: top 3")
ax.legend(fontsize=7)
plt.show()
