"""Multiple spikes of the updated features (Moniri et al. 2023): rule, bulk, finite-N theory.

The simulation is plain NumPy in our convention (see spikewise.solvers.multi_spike):
X n x d N(0,1); W0 N(0,1/d); a N(0,1/N); y = sigma_*(X beta);
W1 = W0 + (eta/n) X^T[((y - f(X)) a^T) * sigma'(X W0)]; features F = sigma(X~ W1) on a fresh X~.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation, hermite_polynomials, hermite_sum
from spikewise.solvers.multi_spike import (
    _ck_bulk,
    _CovarianceBulk,
    _mp_population_nodes,
    spike_count,
    spike_growth_exponent,
    spike_interval,
    spike_onset_width,
    visible_spikes,
)

# ------------------------------------------------------------------------------------------
# asymptotic rule
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ell", range(1, 9))
def test_spike_count_inside_interval(ell):
    lo, hi = spike_interval(ell)
    assert lo == pytest.approx((ell - 1) / (2 * ell), abs=0)
    assert hi == pytest.approx(ell / (2 * ell + 2), abs=0)
    for alpha in (lo + 1e-12, 0.5 * (lo + hi), hi - 1e-12):
        if alpha > 0:
            assert spike_count(alpha) == ell


def test_spike_intervals_tile_and_boundaries_exact():
    for ell in range(1, 20):
        assert spike_interval(ell)[1] == pytest.approx(spike_interval(ell + 1)[0], rel=1e-15)
    # exactly representable boundaries: the critical spike is not counted
    assert spike_count(0.0) == 0
    assert spike_count(0.25) == 1  # alpha = 1/4: degree 2 is critical
    assert spike_count(0.375) == 3  # alpha = 3/8: degree 4 is critical
    assert spike_count(np.nextafter(0.25, 1.0)) == 2
    assert spike_count(np.nextafter(0.375, 0.0)) == 3
    # 0.45 is the boundary 9/20 of ell = 10; the float 0.45 lies just above it
    assert Fraction(0.45) > Fraction(9, 20)
    assert spike_count(0.45) == 10
    assert spike_count(float(np.nextafter(0.45, 0.0))) == 9


def test_growth_exponent_sign_matches_count():
    for alpha in (0.1, 0.26, 0.34, 0.4, 0.47):
        ell = spike_count(alpha)
        assert spike_growth_exponent(ell, alpha) > 0
        assert spike_growth_exponent(ell + 1, alpha) <= 0


@pytest.mark.parametrize("bad", [-0.1, 0.5, 0.7, float("nan"), "x"])
def test_spike_count_rejects(bad):
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of spike_count"):
        spike_count(bad)


def test_visible_spikes_rejects_bad_input():
    with pytest.raises(InvalidParameterError, match="'N' parameter of visible_spikes"):
        visible_spikes("relu", "he1", n=10, d=10, N=0, eta0=1.0, alpha=0.3)
    with pytest.raises(InvalidParameterError, match="'second_layer'"):
        visible_spikes("relu", "he1", n=10, d=10, N=10, eta0=1.0, alpha=0.3, second_layer="x")
    with pytest.raises(InvalidParameterError, match="'a' parameter"):
        visible_spikes("relu", "he1", n=10, d=10, N=10, eta0=1.0, alpha=0.3, a=np.ones(4))
    with pytest.raises(InvalidParameterError, match="'activation'"):
        visible_spikes("nope", "he1", n=10, d=10, N=10, eta0=1.0, alpha=0.3)


# ------------------------------------------------------------------------------------------
# bulk: closed forms (rtol 1e-10)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [0.3, 1.0, 2.5])
def test_iid_bulk_matches_bgn_closed_form(c):
    v = 1.7
    bulk = _CovarianceBulk(np.array([v]), np.array([1.0]), c)
    s = math.sqrt(v)
    assert bulk.edge == pytest.approx(s * (1 + math.sqrt(c)), rel=1e-10)
    assert bulk.threshold == pytest.approx(s * c**0.25, rel=1e-9)
    for theta in (1.3 * s * c**0.25, 3.0 * s):
        t = theta / s
        pos, left, right = bulk.outlier(theta)
        assert pos == pytest.approx(s * math.sqrt((1 + t**2) * (c + t**2)) / t, rel=1e-10)
        assert left == pytest.approx(1 - (c + t**2) / (t**2 * (t**2 + 1)), rel=1e-9)
        assert right == pytest.approx(1 - c * (1 + t**2) / (t**2 * (t**2 + c)), rel=1e-9)
    pos, left, right = bulk.outlier(0.9 * s * c**0.25)
    assert (pos, left, right) == (bulk.edge, 0.0, 0.0)


def test_iid_bulk_agrees_with_spike_engine():
    """Independent implementation: spikes.rectangular_outliers with a MarchenkoPastur law."""
    from spikewise.solvers.marchenko_pastur import MarchenkoPastur
    from spikewise.solvers.spikes import rectangular_outliers

    # ours: B is n x p with entries of variance 1/n; theirs: X = B^T (p x n, variance 1/n),
    # whose Gram X X^T has law MarchenkoPastur(ratio = p/n) and ratio p/n; their left
    # vectors are our right ones.
    n, p = 1000, 700
    bulk = _CovarianceBulk(np.array([1.0]), np.array([1.0]), p / n)
    pred = rectangular_outliers(MarchenkoPastur(ratio=p / n), [2.0, 1.2], ratio=p / n)
    for i, theta in enumerate((2.0, 1.2)):
        pos, left, right = bulk.outlier(theta)
        assert pos == pytest.approx(pred.positions[i], rel=1e-9)
        assert right == pytest.approx(pred.overlaps[i], rel=1e-8)
        assert left == pytest.approx(pred.overlaps_right[i], rel=1e-8)


@pytest.mark.parametrize("ratio", [0.5, 1.0, 1.8])
def test_mp_population_quadrature_moments(ratio):
    t, w = _mp_population_nodes(ratio, 0.36, 0.05)
    lam_m1, lam_m2 = 1.0, 1.0 + ratio  # MP moments (variance 1)
    assert w.sum() == pytest.approx(1.0, rel=1e-10)
    assert np.sum(w * t) == pytest.approx(0.36 * lam_m1 + 0.05, rel=1e-10)
    expect2 = 0.36**2 * lam_m2 + 2 * 0.36 * 0.05 * lam_m1 + 0.05**2
    assert np.sum(w * t**2) == pytest.approx(expect2, rel=1e-10)


# ------------------------------------------------------------------------------------------
# simulation helpers (plain NumPy, our convention)
# ------------------------------------------------------------------------------------------


def _one_step_features(sigma, teacher, *, n, d, N, eta, rng):
    act, tch = get_activation(sigma), get_activation(teacher)
    X = rng.standard_normal((n, d))
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    W0 = rng.standard_normal((d, N)) / math.sqrt(d)
    a = rng.standard_normal(N) / math.sqrt(N)
    y = tch(X @ beta)
    H = X @ W0
    f = act(H) @ a / math.sqrt(N)
    W1 = W0 + (eta / n) * X.T @ (((y - f)[:, None] * a[None, :]) * act.d1(H))
    Xf = rng.standard_normal((n, d))
    U, s, _ = np.linalg.svd(act(Xf @ W1) / math.sqrt(n), full_matrices=False)
    return s, U, Xf @ beta


def test_ck_bulk_edge_against_simulation():
    """Top singular value of sigma(X W0)/sqrt(n) against the Gaussian-equivalent edge.

    The mean of the largest singular value sits below the edge by the Tracy-Widom shift
    (about -1.2 N^{-2/3} in relative units, 0.1%-1% here); it must be below and close.
    """
    rng = np.random.default_rng(11)
    n, d, N = 2000, 1000, 1500
    act = get_activation("tanh")
    bulk = _ck_bulk(act, n=n, d=d, N=N)
    X = rng.standard_normal((n, d))
    W0 = rng.standard_normal((d, N)) / math.sqrt(d)
    top = np.linalg.svd(act(X @ W0) / math.sqrt(n), compute_uv=False)[0]
    assert bulk.edge * (1 - 0.015) < top < bulk.edge * 1.003


# ------------------------------------------------------------------------------------------
# finite-N theory vs simulation
# ------------------------------------------------------------------------------------------

SIZES = dict(n=2000, d=1000, N=1500)


@pytest.fixture(scope="module")
def relu_runs():
    """relu student, linear teacher, alpha in {0.36, 0.46}: one run each (about 6 s)."""
    out = {}
    for k, alpha in enumerate((0.36, 0.46)):
        pred = visible_spikes("relu", "he1", eta0=1.0, alpha=alpha, **SIZES)
        s, U, z = _one_step_features(
            "relu", "he1", eta=pred.eta, rng=np.random.default_rng(100 + k), **SIZES
        )
        out[alpha] = (pred, s, U, z)
    return out


def test_rule_vs_visible_count(relu_runs):
    """alpha = 0.36 has 3 spikes asymptotically, but N = 1500 shows one learned spike (plus
    the mu_0 mean); alpha = 0.46 shows two. Observed = outliers beyond the predicted edge."""
    expected = {0.36: (3, 1), 0.46: (12, 2)}
    for alpha, (pred, s, _, _) in relu_runs.items():
        asym, vis = expected[alpha]
        assert pred.asymptotic_count == asym == spike_count(alpha)
        assert pred.n_visible == vis
        observed = int(np.sum(s > pred.edge * 1.03))
        assert observed == pred.n_outliers == vis + 1
        # hidden spikes are clearly below threshold (not a near-threshold coincidence)
        for sp in pred.spikes:
            if not sp.visible:
                assert sp.strength < 0.8 * sp.threshold
        assert "visible at this N" in pred.explain()
        if asym >= 3:  # relu: mu_3 = 0
            assert "degree(s) 3" in pred.explain()


def test_outlier_positions(relu_runs):
    for pred, s, _, _ in relu_runs.values():
        pos = pred.positions
        rel = np.abs(s[: pos.size] - pos) / pos
        # degree-0 and degree-1 within 6%, the weakest (degree 2) within 8%
        assert np.all(rel[:2] < 0.06), rel
        assert np.all(rel < 0.08), rel


def test_alignment_with_hermite_features(relu_runs):
    for pred, _, U, z in relu_runs.values():
        H = hermite_polynomials(z, 4)
        H = H / np.linalg.norm(H, axis=1, keepdims=True)
        vis = [sp for sp in pred.spikes if sp.visible]
        measured = (H @ U[:, : len(vis)]) ** 2  # (degree, spike)
        for m, sp in enumerate(vis):
            assert sp.degree == sp.teacher_degree
            assert int(np.argmax(measured[:, m])) == sp.teacher_degree
            k = sp.teacher_degree
            assert measured[k, m] == pytest.approx(sp.teacher_overlaps[k], abs=0.05)
            if k >= 1:
                assert sp.teacher_overlaps[k] > 0.2


def test_tanh_odd_degrees_only_and_hidden_third():
    """tanh has mu_2 = 0: no degree-2 spike at all; degree 3 is far below threshold at
    N = 1500 even though alpha = 0.42 predicts 6 spikes asymptotically."""
    pred = visible_spikes("tanh", "he1", eta0=1.0, alpha=0.42, **SIZES)
    degrees = [sp.degree for sp in pred.spikes[:3]]
    assert degrees[:2] == [1, 3]
    assert pred.n_visible == 1 and pred.asymptotic_count == 6
    third = pred.spikes[1]
    assert third.strength < 0.6 * third.threshold
    assert "extrapolated to separate" in pred.explain()


def test_rademacher_and_constant_a_collapse_rank():
    kw = dict(eta0=1.0, alpha=0.45, **SIZES)
    g = visible_spikes("relu", "he1", **kw)
    r = visible_spikes("relu", "he1", second_layer="rademacher", **kw)
    c = visible_spikes("relu", "he1", second_layer="constant", **kw)
    assert len(g.spikes) >= 4
    assert len(r.spikes) <= 2
    assert len(c.spikes) == 1


@pytest.mark.slow
def test_outlier_positions_tighter_at_larger_size():
    """(n, d, N) = (4000, 2000, 3000), alpha = 0.46, mean of two seeds: positions within 4.5%
    (6-8% single-run tolerance at half the size); counts exact."""
    sizes = dict(n=4000, d=2000, N=3000)
    act, tch = get_activation("relu"), get_activation("he1")
    pred = visible_spikes(act, tch, eta0=1.0, alpha=0.46, **sizes)
    n, d, N = sizes["n"], sizes["d"], sizes["N"]
    tops = []
    for seed in (300, 301):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, d))
        beta = rng.standard_normal(d)
        beta /= np.linalg.norm(beta)
        W0 = rng.standard_normal((d, N)) / math.sqrt(d)
        a = rng.standard_normal(N) / math.sqrt(N)
        y = tch(X @ beta)
        H = X @ W0
        f = act(H) @ a / math.sqrt(N)
        W1 = W0 + (pred.eta / n) * X.T @ (((y - f)[:, None] * a[None, :]) * act.d1(H))
        F = act(rng.standard_normal((n, d)) @ W1) / math.sqrt(n)
        s = np.sqrt(np.clip(np.linalg.eigvalsh(F.T @ F)[::-1], 0, None))
        assert int(np.sum(s > 1.03 * pred.edge)) == pred.n_outliers
        tops.append(s[: pred.n_outliers])
    rel = np.abs(np.mean(tops, axis=0) / pred.positions - 1)
    assert np.all(rel < 0.045), rel


def test_kernel_operator_closed_form_for_quadratic_activation():
    """sigma = He_1 + He_2 / 2, linear teacher: the mean kernel is the polynomial
    K(s, a) = eta a s + (eta a)^2 (s^2 + q) / 2 with q = Var(sigma') E[r^2] d/n, so the two
    strengths are eta sd(s) and sqrt(N) (eta^2/2) sqrt(E a^4) sqrt(E (s^2 + q)^2)."""
    sizes = dict(n=1200, d=600, N=900)
    n, d, N = sizes["n"], sizes["d"], sizes["N"]
    sigma = hermite_sum({1: 1.0, 2: 0.5})
    pred = visible_spikes(sigma, "he1", eta0=1.0, alpha=0.3, **sizes)
    eta = N**0.3
    e_r2 = 1.0 + 1.5 / N  # E y^2 + E sigma(Z)^2 / N
    tau2 = ((d - 1) * e_r2 + 3.0 - 1.0) / n + 1.0 / N
    var_s = 1.0 + tau2
    q = 1.0 * e_r2 * d / n  # Var(sigma'(Z)) = Var(1 + Z) = 1
    theta1 = eta * math.sqrt(var_s)
    theta2 = math.sqrt(N) * 0.5 * eta**2 * math.sqrt(3.0) / N
    theta2 *= math.sqrt(3 * var_s**2 + 2 * q * var_s + q**2)
    by_degree = {sp.degree: sp.strength for sp in pred.spikes}
    assert by_degree[1] == pytest.approx(theta1, rel=1e-10)
    assert by_degree[2] == pytest.approx(theta2, rel=1e-10)
    assert len([s for s in pred.spikes if s.strength > 1e-6 * theta1]) == 2


@pytest.mark.parametrize(
    ("sigma", "sizes"),
    [("tanh", (2000, 1000, 1500)), ("relu", (2000, 1000, 3000)), ("gelu", (1000, 1000, 500))],
)
def test_ck_bulk_matches_conjugate_kernel_law(sigma, sizes):
    """Independent implementation: the laws' conjugate_kernel_law (feature orientation
    F^T F / n): same upper edge and same Stieltjes transform above it (rtol 1e-10)."""
    import warnings

    from spikewise.solvers.conjugate_kernel import conjugate_kernel_law

    n, d, N = sizes
    act = get_activation(sigma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mean-outlier warning for non-centred activations
        law = conjugate_kernel_law(act, psi=n / d, phi=N / d, orientation="feature")
    bulk = _ck_bulk(act, n=n, d=d, N=N)
    assert bulk.edge**2 == pytest.approx(law.support[-1][1], rel=1e-10)
    for w in (1.01 * bulk.edge2, 1.3 * bulk.edge2, 4.0 * bulk.edge2):
        mine = (bulk.m_companion(w) + (1 - bulk.c) / w) / bulk.c
        assert mine == pytest.approx(complex(law.stieltjes(w)).real, rel=1e-10)


def test_spike_onset_width_is_consistent():
    """relu, linear teacher, alpha = 0.40, psi = 2, phi = 1.5: the degree-2 spike appears near
    N ~ 1400; hidden a bit below, visible a bit above; never for alpha = 0.2 (e_2 < 0) nor
    for a degree whose Hermite coefficient vanishes (tanh, degree 2)."""
    kw = dict(psi=2.0, phi=1.5, eta0=1.0, rtol=1e-2)
    n_star = spike_onset_width("relu", "he1", degree=2, alpha=0.40, **kw)
    assert 800 < n_star < 3000
    for factor, visible in ((0.8, False), (1.25, True)):
        N = int(round(factor * n_star))
        pred = visible_spikes(
            "relu", "he1", n=int(4 * N / 3), d=int(2 * N / 3), N=N, eta0=1.0, alpha=0.40
        )
        assert [sp.visible for sp in pred.spikes if sp.degree == 2] == [visible]
    assert spike_onset_width("relu", "he1", degree=2, alpha=0.2, N_max=1e6, **kw) == math.inf
    assert spike_onset_width("tanh", "he1", degree=2, alpha=0.42, N_max=1e6, **kw) == math.inf


@pytest.mark.slow
def test_spike_onset_width_against_simulation():
    """Simulated at 0.6 N* (degree-2 spike hidden) and 1.7 N* (visible)."""
    n_star = spike_onset_width(
        "relu", "he1", degree=2, psi=2.0, phi=1.5, eta0=1.0, alpha=0.40, rtol=1e-2
    )
    for factor, learned in ((0.6, 1), (1.7, 2)):
        N = int(round(factor * n_star))
        n, d = int(4 * N / 3), int(2 * N / 3)
        pred = visible_spikes("relu", "he1", n=n, d=d, N=N, eta0=1.0, alpha=0.40)
        assert pred.n_visible == learned
        s, _, _ = _one_step_features(
            "relu", "he1", n=n, d=d, N=N, eta=pred.eta, rng=np.random.default_rng(7)
        )
        assert int(np.sum(s > 1.03 * pred.edge)) == learned + 1  # + the mu_0 mean spike


# ------------------------------------------------------------------------------------------
# bulk of the updated features: the step widens it (finite N)
# ------------------------------------------------------------------------------------------


def test_updated_bulk_reduces_to_ck_law_without_step():
    """eta -> 0: the profiled population is mu_1^2 W0^T W0 + mu_*^2 I (closed-form MP
    population of _ck_bulk): same edge to 1e-10, same BBP strength to 1e-7 (the profiled
    bulk differentiates Silverstein's inverse numerically)."""
    from scipy.special import ndtri

    from spikewise.solvers.multi_spike import _updated_ck_bulk

    n, d, N = 2000, 1000, 1500
    r, rw = np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    a_x = ndtri((np.arange(20) + 0.5) / 20) / math.sqrt(N)
    for sigma in ("relu", "tanh", "gelu"):
        act = get_activation(sigma)
        new = _updated_ck_bulk(
            act, n=n, d=d, N=N, eta=1e-12, a_x=a_x, a_w=np.full(20, 0.05), r=r, rw=rw, sd_s=1.0
        )
        old = _ck_bulk(act, n=n, d=d, N=N)
        assert new.edge == pytest.approx(old.edge, rel=1e-10)
        assert new.threshold == pytest.approx(old.threshold, rel=1e-7)
        pos_new, left_new, _ = new.outlier(2.0)
        pos_old, left_old, _ = old.outlier(2.0)
        assert pos_new == pytest.approx(pos_old, rel=1e-9)
        assert left_new == pytest.approx(left_old, rel=1e-6)


def test_profiled_population_matches_generalized_mp():
    """Independent method: with v = 0 and no spectral profile, A = L W^T W L has the nonzero
    eigenvalues of W L^2 W^T, a generalized MP law with population law(l^2), ratio N/d,
    whose Stieltjes transform _CovarianceBulk gives in closed form (rtol 1e-10)."""
    from spikewise.solvers.multi_spike import _ProfiledCovarianceBulk

    l2 = np.array([0.3, 0.7, 1.6, 2.4])
    aw = np.array([0.1, 0.4, 0.3, 0.2])
    N_over_d = 1.5
    prof = _ProfiledCovarianceBulk(
        np.full(4, 0.2), l2[:, None], aw, np.ones(1), ratio_nd=N_over_d, c=0.75
    )
    gmp = _CovarianceBulk(l2, aw, N_over_d)  # W L^2 W^T (d x d), p/n = N/d
    for z in (1.3 * gmp.edge2 + 0.2, 3.0 * gmp.edge2 + 0.2, 20.0):
        prof._g = None
        x = z - 0.2  # v = 0.2 I shifts the spectrum
        m_small = gmp.m_companion(x)  # Stieltjes transform of W L^2 W^T (d x d) at x
        expect = m_small / N_over_d - (1.0 - 1.0 / N_over_d) / x  # of L W^T W L (N x N)
        assert prof._m_pop(z) == pytest.approx(expect, rel=1e-10)


def _fresh_bulk_tops(sigma, *, n, d, N, eta, seeds, k):
    """Singular values k, k+1 of sigma(X~ W1)/sqrt(n) (the top of the bulk after k
    outliers), one row per seed."""
    act, tch = get_activation(sigma), get_activation("he1")
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, d))
        beta = rng.standard_normal(d)
        beta /= np.linalg.norm(beta)
        W0 = rng.standard_normal((d, N)) / math.sqrt(d)
        a = rng.standard_normal(N) / math.sqrt(N)
        y = tch(X @ beta)
        H = X @ W0
        f = act(H) @ a / math.sqrt(N)
        W1 = W0 + (eta / n) * X.T @ (((y - f)[:, None] * a[None, :]) * act.d1(H))
        s = np.linalg.svd(act(rng.standard_normal((n, d)) @ W1) / math.sqrt(n), compute_uv=False)
        out.append(s[: k + 2])
    return np.array(out)


def _check_bulk_top(sigma, alpha, sizes, seeds):
    """Mean top-of-bulk singular value within a Tracy-Widom band below the predicted edge,
    ratio in [1 - 2 N^{-2/3}, 1 + 0.3 N^{-2/3}]; the edge of sigma(X W0) at initialization
    (what the bulk was predicted to be before) lies outside that band."""
    pred = visible_spikes(sigma, "he1", eta0=1.0, alpha=alpha, **sizes)
    k = pred.n_outliers
    tops = _fresh_bulk_tops(sigma, eta=pred.eta, seeds=seeds, k=k, **sizes)
    tw = sizes["N"] ** (-2.0 / 3.0)
    top = tops[:, k].mean()
    assert 1 - 2.0 * tw < top / pred.edge < 1 + 0.3 * tw, (top / pred.edge, tw)
    init_edge = _ck_bulk(get_activation(sigma), **sizes).edge
    assert not 1 - 2.0 * tw < top / init_edge < 1 + 0.3 * tw, (top / init_edge, tw)
    # every predicted outlier is above the edge in every run
    assert np.all(tops[:, k - 1] > pred.edge)
    return top / pred.edge


@pytest.mark.parametrize(("sigma", "alpha"), [("relu", 0.42), ("tanh", 0.48)])
def test_updated_bulk_edge_against_simulation_small(sigma, alpha):
    """The step widens the bulk for relu (by 3% here) and narrows it for tanh (by 6%: the
    inflated pre-activations saturate, mu_1 of sigma(c h) drops)."""
    _check_bulk_top(sigma, alpha, dict(n=600, d=300, N=450), seeds=range(6))


@pytest.mark.slow
@pytest.mark.parametrize(("sigma", "alpha"), [("relu", 0.44), ("relu", 0.48), ("tanh", 0.44)])
def test_updated_bulk_edge_against_simulation_large(sigma, alpha):
    """(n, d, N) = (2000, 1000, 1500): at alpha = 0.48 the top of the bulk was measured at
    1.506-1.541 against the edge of the conjugate kernel at initialization (1.4896); the
    updated bulk's edge is 1.536."""
    _check_bulk_top(sigma, alpha, dict(SIZES), seeds=range(3))
