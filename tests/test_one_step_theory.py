"""Tests of the one-step (eta = Theta(1)) spike theory, ``spikewise.solvers.one_step_theory``.

Two kinds of checks: closed forms against the generic outlier engines and the CK law
(rtol 1e-10), and theory against a plain-NumPy simulation of the project's convention
(written here so that the test does not depend on ``spikewise.spectra``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize

from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation, hermite_sum
from spikewise.solvers.conjugate_kernel import conjugate_kernel_law
from spikewise.solvers.marchenko_pastur import MarchenkoPastur
from spikewise.solvers.one_step_theory import (
    ck_test_outlier,
    column_spike,
    critical_learning_rate,
    one_step_spike,
)
from spikewise.solvers.spikes import hermitian_outliers, rectangular_outliers

HE12 = hermite_sum({1: 1.0, 2: 2**-0.5})
PAIRS = [("tanh", HE12), ("relu_centred", "tanh")]


# --------------------------------------------------------------------------------------------
# Plain-NumPy simulation (the project's convention)
# --------------------------------------------------------------------------------------------
def _simulate(sigma, teacher, *, n, d, N, eta, seed, noise=0.0, ck=False):
    sigma = get_activation(sigma)
    teacher = get_activation(teacher)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    W0 = rng.standard_normal((d, N)) / math.sqrt(d)
    a = rng.standard_normal(N) / math.sqrt(N)
    y = teacher(X @ beta) + noise * rng.standard_normal(n)
    Z = X @ W0
    f = sigma(Z) @ a / math.sqrt(N)
    W1 = W0 + (eta / n) * (X.T @ (((y - f)[:, None] * a[None, :]) * sigma.d1(Z)))
    ev, U = np.linalg.eigh(W1 @ W1.T)  # d x d Gram: singular values and left vectors
    u = U[:, -1]
    v = W1.T @ u / math.sqrt(ev[-1])
    xi = X.T @ y / n
    out = {
        "s1": math.sqrt(ev[-1]),
        "ov_beta": float(u @ beta) ** 2,
        "ov_spike": float(u @ xi) ** 2 / float(xi @ xi),
        "ov_right": float(v @ a) ** 2 / float(a @ a),
        "arrays": {"a": a, "W0": W0, "X": X, "y": y, "beta": beta},
    }
    if ck:  # test-input CK, averaged over `ck` independent test batches
        tops, ovs = [], []
        for _ in range(int(ck)):
            Xt = rng.standard_normal((n, d))
            F = sigma(Xt @ W1)
            evk, V = np.linalg.eigh(F @ F.T / N)
            xb = Xt @ beta
            tops.append(evk[-1])
            ovs.append(float(V[:, -1] @ xb) ** 2 / float(xb @ xb))
        out["ck"] = float(np.mean(tops))
        out["ck_ov"] = float(np.mean(ovs))
    return out


# --------------------------------------------------------------------------------------------
# Closed forms and independent methods
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("phi", [0.5, 1.5, 3.0])
@pytest.mark.parametrize("theta2", [0.3, 2.0, 7.5])
def test_column_spike_matches_rectangular_engine(phi, theta2):
    # W0 + theta u a^T, W0 d x N with N(0, 1/d) entries: BGN with law of W0 W0^T
    law = MarchenkoPastur(ratio=1.0 / phi, scale=phi)
    eng = rectangular_outliers(law, math.sqrt(theta2), ratio=1.0 / phi)
    out, s1, edge, ov_h, ov_r = column_spike(1.0 + theta2, phi=phi)
    assert out == bool(eng.is_outlier[0])
    assert edge == pytest.approx(eng.edges[0], rel=1e-10)
    assert s1 == pytest.approx(eng.positions[0], rel=1e-10)
    # overlap with the spike direction xi: |<u, h_hat>|^2 cos^2(h, xi) = ov_h theta^2/(1+theta^2)
    assert ov_h * theta2 / (1.0 + theta2) == pytest.approx(eng.overlaps[0], rel=1e-10, abs=1e-14)
    assert ov_r == pytest.approx(eng.overlaps_right[0], rel=1e-10, abs=1e-14)
    assert math.sqrt(phi) ** 0.5 == pytest.approx(eng.thresholds[0], rel=1e-10)


@pytest.mark.parametrize("phi", [0.7, 1.5])
@pytest.mark.parametrize("tau2", [1.5, 3.0, 10.0])
def test_column_spike_matches_hermitian_engine(phi, tau2):
    # B B^T + h h^T with B d x N_B, law phi * MP(1/phi); scale 1.3 checks the bulk scaling
    scale = 1.3
    law = MarchenkoPastur(ratio=1.0 / phi, scale=phi * scale)
    eng = hermitian_outliers(law, tau2)
    out, s1, edge, ov_h, _ = column_spike(tau2, phi=phi, scale=scale)
    assert out == bool(eng.is_outlier[0])
    assert s1**2 == pytest.approx(eng.positions[0], rel=1e-10)
    assert edge**2 == pytest.approx(eng.edges[0], rel=1e-10)
    assert ov_h == pytest.approx(eng.overlaps[0], rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("act", ["tanh", "relu_centred", "erf"])
@pytest.mark.parametrize("psi,phi", [(2.0, 1.5), (0.5, 2.0), (3.0, 0.6)])
def test_ck_edge_matches_conjugate_kernel_law(act, psi, phi):
    law = conjugate_kernel_law(act, psi=psi, phi=phi, orientation="sample")
    s = get_activation(act)
    _, _, edge, _ = ck_test_outlier(s.mu1, s.mu_star2, psi=psi, phi=phi, theta2=0.0)
    assert edge == pytest.approx(law.upper, rel=1e-10)


def _ck_outlier_by_quadrature(mu1, mus2, psi, phi, theta2, lam):
    """Independent evaluation of the CK outlier function Phi(lam) in the lambda variable.

    delta solves delta = (n/N) E_s[S/(S/(1+delta) - lam)], S = mu1^2 s + mus2, s ~ law of
    X X^T / d; Phi(lam) = (n/N) E_s[S'/(lam - S/(1+delta))], S' = S + mu1^2 theta2 s. The
    expectations are computed by adaptive quadrature of the MP density (plus its atom).
    """
    law = MarchenkoPastur(ratio=psi)
    lo, hi = law.support[0]
    locs, masses = law.atoms

    def expect(g):
        val = integrate.quad(lambda s: g(s) * law.pdf(s), lo, hi, limit=200, epsabs=1e-13,
                             epsrel=1e-12)[0]
        return val + sum(m * g(x) for x, m in zip(locs, masses, strict=True))

    r = psi / phi

    def fix(delta):
        return r * expect(lambda s: (mu1**2 * s + mus2) / ((mu1**2 * s + mus2) / (1 + delta)
                                                            - lam)) - delta

    delta = optimize.brentq(fix, -0.999999, -1e-12, xtol=1e-14)
    return r * expect(lambda s: (mu1**2 * (1 + theta2) * s + mus2)
                      / (lam - (mu1**2 * s + mus2) / (1 + delta)))


@pytest.mark.parametrize("act,psi,phi,theta2", [("tanh", 2.0, 1.5, 6.0),
                                                 ("relu_centred", 0.8, 2.0, 12.0)])
def test_ck_outlier_solves_the_lambda_equation(act, psi, phi, theta2):
    s = get_activation(act)
    out, lam, edge, ov = ck_test_outlier(s.mu1, s.mu_star2, psi=psi, phi=phi, theta2=theta2,
                                         beta_h2=theta2 / 2)
    assert out and lam > edge
    assert _ck_outlier_by_quadrature(s.mu1, s.mu_star2, psi, phi, theta2, lam) == pytest.approx(
        1.0, abs=1e-8)
    # overlap: (beta.h)^2 n^2 (1+delta)^2 k^2 / (mu1^2 n * (-N dPhi/dlam)) from a central
    # difference of the quadrature-based Phi (independent of the t-parametrisation)
    h = 1e-3 * (lam - edge)
    dphi = (_ck_outlier_by_quadrature(s.mu1, s.mu_star2, psi, phi, theta2, lam + h)
            - _ck_outlier_by_quadrature(s.mu1, s.mu_star2, psi, phi, theta2, lam - h)) / (2 * h)
    # tr(X X^T R)/n = E_s[s/(lam - S/(1+delta))]; recover via Phi(theta2) - Phi(0)
    phi_0 = _ck_outlier_by_quadrature(s.mu1, s.mu_star2, psi, phi, 0.0, lam)
    e_s = (1.0 - phi_0) / (s.mu1**2 * theta2 * psi / phi)
    expected = (theta2 / 2) * s.mu1**2 * e_s**2 * (psi / phi) / (-dphi)
    assert ov == pytest.approx(expected, rel=1e-5)


def test_limit_closed_forms_and_threshold():
    s, t = get_activation("tanh"), get_activation("tanh")
    psi, phi, noise = 2.0, 1.5, 0.3
    ey2 = t.second_moment + noise**2
    q = t.mu1**2 + ey2 / psi
    eta_c = critical_learning_rate(s, t, psi=psi, phi=phi, noise=noise)
    assert eta_c == pytest.approx(phi**0.25 / (abs(s.mu1) * math.sqrt(q)), rel=1e-12)
    for eta in (0.5 * eta_c, 1.7 * eta_c, 4.0 * eta_c):
        r = one_step_spike(s, t, psi=psi, phi=phi, eta=eta, noise=noise).limit
        th2 = eta**2 * s.mu1**2 * q
        assert r.theta2 == pytest.approx(th2, rel=1e-12)
        assert r.spike_norm2 == pytest.approx(q, rel=1e-12)
        assert r.cos2_spike_beta == pytest.approx(t.mu1**2 / q, rel=1e-12)
        assert r.is_outlier == (eta > eta_c)
        if r.is_outlier:
            assert r.top_singular_value**2 == pytest.approx((1 + th2) * (phi + th2) / th2,
                                                             rel=1e-12)
            assert r.overlap_spike == pytest.approx((th2**2 - phi) / (th2 * (1 + th2)),
                                                     rel=1e-12)
            assert r.overlap_beta == pytest.approx(r.overlap_spike * r.cos2_spike_beta,
                                                    rel=1e-12)
            assert r.overlap_right == pytest.approx((th2**2 - phi) / (th2 * (th2 + phi)),
                                                     rel=1e-12)
        else:
            assert r.top_singular_value == pytest.approx(1 + math.sqrt(phi), rel=1e-12)
            assert r.overlap_beta == 0.0


def test_finite_size_threshold_is_where_the_outlier_appears():
    kw = dict(psi=2.0, phi=1.5, n=2000)
    eta_c = critical_learning_rate("tanh", HE12, **kw)
    assert eta_c > critical_learning_rate("tanh", HE12, psi=2.0, phi=1.5)  # kappa pushes it up
    assert one_step_spike("tanh", HE12, eta=eta_c * (1 + 1e-6), **kw).finite.is_outlier
    assert not one_step_spike("tanh", HE12, eta=eta_c * (1 - 1e-6), **kw).finite.is_outlier


def test_finite_size_tends_to_the_limit():
    r = one_step_spike("relu_centred", "tanh", psi=2.0, phi=1.5, eta=6.0, n=10**9)
    for name in ("top_singular_value", "overlap_beta", "overlap_right", "ck_outlier",
                 "ck_overlap_beta", "eta_c"):
        assert getattr(r.finite, name) == pytest.approx(getattr(r.limit, name), rel=1e-3)


def test_validation():
    with pytest.raises(InvalidParameterError, match="'psi' parameter of one_step_spike"):
        one_step_spike("tanh", "tanh", psi=-1.0, phi=1.0, eta=1.0)
    with pytest.raises(InvalidParameterError, match="'second_layer'"):
        one_step_spike("tanh", "tanh", psi=1.0, phi=1.0, eta=1.0, n=100, second_layer="uniform")
    with pytest.raises(InvalidParameterError, match="'n' parameter"):
        one_step_spike("tanh", "tanh", psi=1.0, phi=1.0, eta=1.0, a=np.ones(10))
    with pytest.raises(InvalidParameterError, match="'X' and 'y'"):
        one_step_spike("tanh", "tanh", psi=1.0, phi=1.0, eta=1.0, n=10, X=np.ones((10, 10)))
    with pytest.raises(InvalidParameterError):
        one_step_spike("nope", "tanh", psi=1.0, phi=1.0, eta=1.0)
    with pytest.raises(InvalidParameterError, match="'tau2'"):
        column_spike(-1.0, phi=1.0)


def test_result_is_frozen_and_labelled():
    r = one_step_spike("tanh", "tanh", psi=2.0, phi=1.5, eta=3.0, n=1000)
    with pytest.raises(AttributeError):
        r.limit.theta2 = 0.0  # type: ignore[misc]
    assert r.params["activation"] and r.params["n"] == 1000
    assert "top_singular_value" in r.table()
    assert r.as_dict()["finite"]["is_outlier"] == r.finite.is_outlier


# --------------------------------------------------------------------------------------------
# Theory against simulation
# --------------------------------------------------------------------------------------------
def test_spike_norm_is_total_label_energy():
    # ||X^T y / n||^2 -> c1^2 + E[y^2]/psi (not E[y^2] - c1^2) and cos^2 = c1^2/that
    n, d = 1000, 500
    rng = np.random.default_rng(7)
    t = HE12
    norms, cosines = [], []
    for _ in range(150):
        X = rng.standard_normal((n, d))
        y = t(X[:, 0]) + 0.5 * rng.standard_normal(n)
        xi = X.T @ y / n
        norms.append(xi @ xi)
        cosines.append(xi[0] ** 2 / (xi @ xi))
    r = one_step_spike("tanh", t, psi=n / d, phi=1.0, eta=1.0, noise=0.5, n=n).finite
    se = np.std(norms) / math.sqrt(len(norms))
    assert abs(np.mean(norms) - r.spike_norm2) < 4 * se
    assert abs(np.mean(norms) - (1 + (2.25 - 1) / 2)) > 10 * se  # E[y^2]-c1^2 is rejected
    assert abs(np.mean(cosines) - r.cos2_spike_beta) < 4 * np.std(cosines) / math.sqrt(150)


def _check_sim(pair, etas, *, n, d, N, seeds, realized, tol_s, tol_ov, ck=False, tol_ck=None,
               n_se=0.0, base_seed=None):
    """Mean over seeds of simulation vs prediction.

    ``realized=True`` compares with the prediction conditional on each draw (a, W0, X, y,
    beta); ``realized=False`` with the unconditional one. ``n_se > 0`` adds ``n_se`` standard
    errors of the seed mean to the tolerance (the unconditional comparison carries the
    O(n^-1/2) seed-to-seed spread of ||X^T y/n||^2, about 5% in s1 per seed at n = 1000 for
    the He1 + He2 teacher); the spread itself is then required to be small enough for the
    test to have power. ``base_seed`` (a ``global_random_seed``) chooses the draws; without it
    they are fixed.
    """
    sigma, teacher = pair
    psi, phi = n / d, N / d
    eta_c = critical_learning_rate(sigma, teacher, psi=psi, phi=phi, n=n)

    def compare(sim, th, tol, rel, what):
        sim, th = np.asarray(sim), np.asarray(th)
        diff = sim / th - 1 if rel else sim - th
        se = np.std(diff, ddof=1) / math.sqrt(len(diff)) if n_se else 0.0
        if n_se:
            assert se < 2 * tol, (what, "too noisy to test", se)
        assert abs(np.mean(diff)) < tol + n_se * se, (sigma, eta, eta_c, what, np.mean(diff), se)

    for eta in etas:
        keys = [1000 * int(eta * 10) + s for s in range(seeds)]
        sims = [_simulate(sigma, teacher, n=n, d=d, N=N, eta=eta, ck=ck,
                          seed=key if base_seed is None else [base_seed, key]) for key in keys]
        preds = [one_step_spike(sigma, teacher, psi=psi, phi=phi, eta=eta, n=n,
                                **(r["arrays"] if realized else {})).finite for r in sims]
        compare([r["s1"] for r in sims], [p.top_singular_value for p in preds], tol_s, True,
                "s1")
        for key, attr in (("ov_beta", "overlap_beta"), ("ov_spike", "overlap_spike"),
                          ("ov_right", "overlap_right")):
            compare([r[key] for r in sims], [getattr(p, attr) for p in preds], tol_ov, False,
                    key)
        if ck:
            compare([r["ck"] for r in sims], [p.ck_outlier for p in preds], tol_ck[0], True,
                    "ck")
            compare([r["ck_ov"] for r in sims], [p.ck_overlap_beta for p in preds], tol_ck[1],
                    False, "ck_ov")


# eta on both sides of the finite-size threshold (about 1.30 for tanh/He12, 3.0 for
# relu_centred/tanh at psi = 2, phi = 1.5, n = 2000), away from it
@pytest.mark.parametrize("pair,etas", [(PAIRS[0], [0.6, 2.6, 6.0]),
                                       (PAIRS[1], [1.2, 5.0, 9.0])])
def test_w1_spike_against_simulation_given_the_draw(pair, etas):
    """Finite-size prediction conditional on the realized (a, W0, X, y, beta)."""
    _check_sim(pair, etas, n=2000, d=1000, N=1500, seeds=2, realized=True, tol_s=0.01,
               tol_ov=0.02)


@pytest.mark.parametrize("pair,etas", [(("tanh", "tanh"), [1.0, 4.0, 8.0]),
                                       (PAIRS[1], [1.2, 5.0, 9.0])])
def test_w1_spike_against_simulation_mean_over_seeds(pair, etas):
    """Unconditional finite-size prediction, mean over seeds (d = 500 to stay fast).

    The He1 + He2 teacher is left to the slow test: its label energy fluctuates too much from
    seed to seed for six seeds at n = 1000 to resolve 1%.

    Not under the seed contract (fixed draws): over seeds 0-19 of ``global_random_seed`` it
    failed at one (tanh/tanh, eta = 4: six draws averaged -2.5% with an estimated standard
    error of 0.45%, while twelve draws give -1.0% +- 0.65% and the prediction conditional on
    each draw -0.2%), because a standard error estimated from six draws is too unreliable
    for a 3-standard-error rule; it needs more draws or a known-variance bound.
    """
    _check_sim(pair, etas, n=1000, d=500, N=750, seeds=6, realized=False, tol_s=0.01,
               tol_ov=0.02, n_se=3.0)


@pytest.mark.slow
@pytest.mark.parametrize("pair,etas", [(PAIRS[0], [0.6, 3.0, 6.0]),
                                       (PAIRS[1], [1.2, 5.0, 9.0])])
def test_w1_spike_against_simulation_mean_over_seeds_large(pair, etas):
    _check_sim(pair, etas, n=4000, d=2000, N=3000, seeds=8, realized=False, tol_s=0.01,
               tol_ov=0.02, n_se=3.0)


@pytest.mark.parametrize("pair,eta", [(PAIRS[0], 6.0)])
def test_ck_outlier_against_simulation(pair, eta):
    """Test-input CK outlier (K = F F^T / N), conditional on the draw, mean over seeds.

    The outlier moves by about 3% per test batch at n = 1000 (through ||X h||^2, a chi^2_n
    variable), so two test batches per seed and the seed-mean standard error enter the
    tolerance (``n_se``); the finite-size neuron-norm correction is about 4% here.

    Fixed draws (not the rotated ``global_random_seed``), as for
    ``test_w1_spike_against_simulation_mean_over_seeds``: over the base seeds 0-20 the mean
    relative error of 8 draws scatters around -0.2% with a spread of 1.1% between seeds, but
    base seed 93 (first met in CI) gives -3.9% +- 0.9% on 8 draws and -3.6% +- 0.7% on 16,
    nearly every draw low. The draws are independent streams, so this is not understood;
    it is recorded here rather than hidden by a wider band.
    """
    _check_sim(pair, [eta], n=1000, d=500, N=750, seeds=8, realized=True, tol_s=0.01,
               tol_ov=0.02, ck=2, tol_ck=(0.01, 0.02), n_se=3.0)


@pytest.mark.slow
@pytest.mark.parametrize("pair,eta", [(PAIRS[0], 6.0), (PAIRS[1], 9.0), (("tanh", "tanh"), 8.0)])
def test_ck_outlier_against_simulation_large(pair, eta):
    _check_sim(pair, [eta], n=2000, d=1000, N=1500, seeds=10, realized=True, tol_s=0.01,
               tol_ov=0.02, ck=2, tol_ck=(0.01, 0.02), n_se=3.0)


@pytest.mark.parametrize("second_layer", ["rademacher", "constant"])
def test_against_the_spectra_simulator(second_layer):
    """Cross-check with ``spikewise.spectra.experiment.one_step`` (the simulator helper)."""
    from spikewise.spectra import experiment  # a real import: a broken module must fail
    errs, dovs, errs_u = [], [], []
    for seed in range(3):
        r = experiment.one_step(n=1000, d=500, N=750, activation="tanh", teacher="tanh",
                                eta0=6.0, noise=0.2, second_layer=second_layer,
                                spectra=("W1",), k_top=1, rng=seed)
        kw = dict(psi=2.0, phi=1.5, eta=6.0, noise=0.2, n=1000, second_layer=second_layer)
        # the round trip: the run's own parameters are the prediction's keywords
        p = one_step_spike(**r.theory_params(one_step_spike, realized=True)).finite
        s1 = np.max(r.spectra["W1"].values)
        errs.append(s1 / p.top_singular_value - 1)
        errs_u.append(s1 / one_step_spike("tanh", "tanh", **kw).finite.top_singular_value - 1)
        dovs.append(r.alignments["W1"][0, 0] - p.overlap_beta)
    assert abs(np.mean(errs)) < 0.01
    assert abs(np.mean(dovs)) < 0.02
    # unconditional: seed spread of ||X^T y/n||^2 is about 2% per seed here
    assert abs(np.mean(errs_u)) < 0.01 + 3 * np.std(errs_u, ddof=1) / math.sqrt(3)
