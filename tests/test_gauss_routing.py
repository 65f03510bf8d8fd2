"""Every Gaussian expectation of the theory goes through the kink-aware ``spikewise._gauss``.

Regression for issue 10: for ``sigma(x) = max(x - 1/2, 0)`` declared with ``kinks=(0.5,)``,
``Var sigma'(Z) = p (1 - p)`` with ``p = P(Z > 1/2)``; the one-step theory used plain
Gauss-Hermite (0.2331) and the multi-spike theory a rule split at 0 (0.2143), both wrong.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest
from scipy.special import ndtr

from spikewise._gauss import location_scale_rule
from spikewise.activations import Activation, get_activation
from spikewise.solvers import multi_spike, one_step_theory

SHIFTED_RELU = Activation.from_callable(lambda x: np.maximum(x - 0.5, 0.0), kinks=(0.5,))
P_ABOVE = float(ndtr(-0.5))
VAR_D1 = P_ABOVE * (1.0 - P_ABOVE)  # 0.21334...


def test_var_d1_of_a_shifted_kink_one_step():
    st = one_step_theory._stats(SHIFTED_RELU, get_activation("linear"), 0.0)
    assert st["var_d1"] == pytest.approx(VAR_D1, rel=1e-12, abs=0)
    assert st["mu1"] == pytest.approx(P_ABOVE, rel=1e-12)


def test_var_d1_of_a_shifted_kink_multi_spike():
    assert multi_spike._var_d1(SHIFTED_RELU) == pytest.approx(VAR_D1, rel=1e-12, abs=0)


def test_var_d1_against_monte_carlo():
    z = np.random.default_rng(0).standard_normal(400_000)
    d1 = SHIFTED_RELU.d1(z)
    # the sample variance of a Bernoulli(p) has sd ~ sqrt(p(1-p)(1-2p)^2/n) ~ 3e-4
    assert np.var(d1) == pytest.approx(VAR_D1, abs=2e-3)


@pytest.mark.parametrize("loc,scale", [(0.3, 0.7), (-1.2, 2.5), (0.5, 1e-3)])
def test_location_scale_rule_across_a_kink(loc, scale):
    """E relu(loc + scale Z) has the closed form loc Phi(loc/s) + s phi(loc/s)."""
    x, w = location_scale_rule(np.array([loc]), np.array([scale]), (0.0,))
    got = float(np.sum(w * np.maximum(x, 0.0)))
    r = loc / scale
    expected = loc * ndtr(r) + scale * np.exp(-0.5 * r * r) / np.sqrt(2 * np.pi)
    assert got == pytest.approx(expected, rel=1e-12)


def test_multi_spike_moments_against_mpmath():
    """E tanh(x), E tanh(x)^2, E tanh'(x) for x = scale h + shift, against 30-digit mpmath."""
    mpmath = pytest.importorskip("mpmath")
    act = get_activation("tanh")
    scale, shift = np.array([0.8, 1.3]), np.array([0.1, -0.4])
    k1, k2, d1 = multi_spike._gauss_moments(act, scale, shift)
    with mpmath.workdps(30):
        for i in range(2):
            s, m = float(scale[i]), float(shift[i])
            pts = [-mpmath.inf, -m / s, mpmath.inf]

            def mean(f, s=s, m=m, pts=pts):
                return float(mpmath.quad(lambda h: f(s * h + m) * mpmath.npdf(h), pts))

            ref = [mean(mpmath.tanh), mean(lambda x: mpmath.tanh(x) ** 2),
                   mean(lambda x: 1 - mpmath.tanh(x) ** 2)]
            np.testing.assert_allclose([k1[i], k2[i], d1[i]], ref, rtol=1e-13, atol=1e-16)


def test_only_gauss_builds_rules():
    src = pathlib.Path(one_step_theory.__file__).parents[1]
    pattern = re.compile(r"hermegauss|roots_legendre|leggauss|roots_hermite")
    offenders = [
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if p.name != "_gauss.py" and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
