"""Tests of the CK outliers after one step on fresh and training inputs
(``spikewise.solvers.spiked_rf.ck_outliers``).

Exact: the fresh-input equations reduce to ``ck_test_outlier`` / ``one_step_spike`` (1e-10);
the closed-form Marchenko-Pastur sums equal a fine quadrature of the law; no step gives no
outlier and the CK law's edge. Simulation (plain NumPy, the project's step): the conditional
("draw") predictions against the measured top eigenvalue of ``F F^T / N``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation
from spikewise.solvers import (
    ck_outliers,
    ck_test_outlier,
    conjugate_kernel_law,
    one_step_spike,
)
from spikewise.solvers.spiked_rf.ck_outliers import _DiscreteSums, _MPSums, _solve


def _step(act, teacher, *, n, d, N, eta, seed, second_layer="gaussian"):
    """One step in the project's convention (plain NumPy)."""
    act, teacher = get_activation(act), get_activation(teacher)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    y = teacher(X @ beta)
    W0 = rng.standard_normal((d, N)) / math.sqrt(d)
    if second_layer == "gaussian":
        a = rng.standard_normal(N) / math.sqrt(N)
    elif second_layer == "rademacher":
        a = rng.choice([-1.0, 1.0], size=N) / math.sqrt(N)
    else:
        a = np.ones(N) / math.sqrt(N)
    H = X @ W0
    f = act(H) @ a / math.sqrt(N)
    W1 = W0 + eta / n * X.T @ (((y - f)[:, None] * a[None, :]) * act.d1(H))
    X_ck = rng.standard_normal((n, d))
    return dict(a=a, W0=W0, X=X, y=y, beta=beta), W1, X_ck


def _top(act, X, W1):
    F = get_activation(act)(X @ W1)
    return float(np.linalg.eigvalsh(F @ F.T / W1.shape[1])[-1])


@pytest.mark.parametrize("act, eta", [("tanh", 5.0), ("relu_centred", 3.0), ("erf", 8.0)])
def test_fresh_inputs_reduce_to_the_one_step_theory(act, eta):
    lim = one_step_spike(act, "tanh", psi=2.0, phi=1.5, eta=eta).limit
    r = ck_outliers(act, "tanh", psi=2.0, phi=1.5, eta0=eta, n=1200)
    assert r.limit.position == pytest.approx(lim.ck_outlier, rel=1e-10)
    assert r.limit.bulk_edge == pytest.approx(lim.ck_bulk_edge, rel=1e-10)
    assert r.limit.overlap_beta == pytest.approx(lim.ck_overlap_beta, rel=1e-8)
    fin = one_step_spike(act, "tanh", psi=2.0, phi=1.5, eta=eta, n=1200).finite
    assert r.finite.position == pytest.approx(fin.ck_outlier, rel=1e-10)
    arrays, _, _ = _step(act, "tanh", n=400, d=200, N=300, eta=eta, seed=1)
    cond = one_step_spike(act, "tanh", psi=2.0, phi=1.5, eta=eta, n=400, **arrays).finite
    draw = ck_outliers(act, "tanh", psi=2.0, phi=1.5, eta0=eta, n=400, **arrays).draw
    assert draw.position == pytest.approx(cond.ck_outlier, rel=1e-10)


def test_no_step_gives_the_ck_law_edge_on_both_inputs():
    law = conjugate_kernel_law("tanh", psi=2.0, phi=1.5, orientation="sample")
    for inputs in ("fresh", "train"):
        r = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=0.0, inputs=inputs)
        assert not r.limit.is_outlier
        assert r.limit.position == pytest.approx(law.support[-1][1], rel=1e-8)
    out, pos, edge, _ = ck_test_outlier(get_activation("tanh").mu1,
                                        get_activation("tanh").mu_star2, psi=2.0, phi=1.5,
                                        theta2=0.0)
    assert pos == pytest.approx(edge, rel=1e-12)


def test_closed_form_sums_match_a_quadrature_of_marchenko_pastur():
    from spikewise.solvers.multi_spike import _mp_population_nodes

    c = 2.0
    w = [0.3, 0.7, 0.2, 0.05]
    e = [0.0, 0.4, 0.1]
    ell, mass = _mp_population_nodes(c, 1.0, 0.0, n_nodes=2000)
    n = 1.0
    poly_w = sum(wp * ell**p for p, wp in enumerate(w))
    poly_e = sum(ep * ell**p for p, ep in enumerate(e))
    disc = _DiscreteSums(ell, mass, mass * poly_w, mass * poly_e)
    mp = _MPSums(c, w, e, n)
    for t in (7.0, 9.5, 20.0):
        np.testing.assert_allclose(disc(t)[:4], mp(t)[:4], rtol=1e-7)
    a = _solve(mp, A=0.4, B=0.05, B_spike=0.06, N_b=1.0)
    b = _solve(disc, A=0.4, B=0.05, B_spike=0.06, N_b=1.0)
    assert a.is_outlier and b.is_outlier
    assert a.position == pytest.approx(b.position, rel=1e-6)


def test_training_outlier_exceeds_the_fresh_one_and_grows_with_eta():
    prev = 0.0
    for eta in (3.0, 5.0, 8.0):
        fr = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=eta).limit
        tr = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=eta, inputs="train").limit
        assert tr.position > fr.position
        assert tr.position > prev
        prev = tr.position


@pytest.mark.parametrize("act", ["tanh", pytest.param("relu_centred", marks=pytest.mark.slow)])
def test_draw_predictions_match_simulation_small(act):
    n, d, N, eta = 600, 300, 450, 6.0
    errs = {"fresh": [], "train": []}
    for seed in range(3):
        arrays, W1, X_ck = _step(act, "tanh", n=n, d=d, N=N, eta=eta, seed=seed)
        for inputs, Xs in (("fresh", X_ck), ("train", arrays["X"])):
            extra = {"X_ck": X_ck} if inputs == "fresh" else {}
            p = ck_outliers(act, "tanh", psi=2.0, phi=1.5, eta0=eta, n=n, inputs=inputs,
                            **arrays, **extra).draw
            errs[inputs].append(p.position / _top(act, Xs, W1) - 1.0)
    # the conditional prediction leaves an O(n^-1/2) fluctuation (about 2% at n = 600)
    for inputs, e in errs.items():
        assert np.max(np.abs(e)) < 0.05, (inputs, e)
        assert abs(np.mean(e)) < 0.025, (inputs, e)


def test_row_norm_response_closed_form():
    """Without a step the spiked column's mean on a row of squared norm q d is
    sum_j a_hat_j E sigma(sqrt(q) Z): (sqrt(q) - 1)/sqrt(2 pi) per unit of sum_j a_hat_j for the
    centred ReLU, 0 for tanh (odd); its linear coefficient is E sigma'(sqrt(q) Z) = 1/2."""
    from spikewise.solvers.spiked_rf.ck_outliers import _column_response, _norm_response

    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((40, 50)) * rng.uniform(0.5, 1.5, size=(40, 1))
    sd = np.sqrt(np.sum(Xs * Xs, axis=1) / 50)
    a = np.ones(30) / math.sqrt(30)
    relu = get_activation("relu_centred")
    M, L = _column_response(relu, np.zeros(30), a, a * a, np.zeros(40), np.zeros(40), relu.mu1,
                            sd=sd)
    np.testing.assert_allclose(M, math.sqrt(30) * (sd - 1.0) / math.sqrt(2.0 * math.pi),
                               atol=1e-12)
    np.testing.assert_allclose(L, 0.5, atol=1e-12)
    np.testing.assert_allclose(_norm_response(relu, a, Xs), M, atol=1e-12)
    np.testing.assert_allclose(_norm_response(get_activation("tanh"), a, Xs), 0.0, atol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize("act, eta, second_layer", [
    ("tanh", 5.0, "gaussian"), ("tanh", 5.0, "rademacher"), ("tanh", 5.0, "constant"),
    ("relu_centred", 4.0, "gaussian"), ("relu_centred", 4.0, "rademacher"),
    ("relu_centred", 4.0, "constant"),
])
def test_draw_predictions_match_simulation_demo_size(act, eta, second_layer):
    n, d, N = 1600, 800, 1200
    errs = {"fresh": [], "train": []}
    for seed in range(3):
        arrays, W1, X_ck = _step(act, "tanh", n=n, d=d, N=N, eta=eta, seed=seed,
                                 second_layer=second_layer)
        for inputs, Xs in (("fresh", X_ck), ("train", arrays["X"])):
            extra = {"X_ck": X_ck} if inputs == "fresh" else {}
            p = ck_outliers(act, "tanh", psi=2.0, phi=1.5, eta0=eta, n=n, inputs=inputs,
                            second_layer=second_layer, **arrays, **extra).draw
            errs[inputs].append(p.position / _top(act, Xs, W1) - 1.0)
    # about 1.5% at n = 1600: half the tolerance of the small test
    for inputs, e in errs.items():
        assert np.max(np.abs(e)) < 0.035, (inputs, e)
        assert abs(np.mean(e)) < 0.02, (inputs, e)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(inputs="test"), "inputs"),
        (dict(second_layer="uniform"), "second_layer"),
        (dict(eta0=float("nan")), "eta0"),
        (dict(alpha=0.3), "alpha"),
        (dict(inputs="train", n=100, X_ck=np.zeros((100, 50))), "X_ck"),
        (dict(n=100, a=np.ones(75)), "a"),
        (dict(method="exact"), "method"),
        (dict(method="mixture"), "n"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    base = dict(psi=2.0, phi=1.5, eta0=1.0)
    base.update(kwargs)
    with pytest.raises(InvalidParameterError, match=f"'{name}'"):
        ck_outliers("tanh", "tanh", **base)


# --------------------------------------------------------------------------------------------
# Any step: the mixture (conditional) treatment
# --------------------------------------------------------------------------------------------
from spikewise.solvers import SpikedRandomFeatures, feature_spectrum  # noqa: E402
from spikewise.solvers.one_step_theory import _prepare  # noqa: E402
from spikewise.solvers.spiked_rf.ck_outliers import (  # noqa: E402
    T_SWITCH,
    _law_latent,
    _mixture,
    _self_moments,
)
from spikewise.solvers.spiked_rf.model import _shifted_second_moment, shifted_hermite  # noqa: E402


@pytest.mark.parametrize("act", ["tanh", "relu_centred"])
def test_self_moments_without_self_term_are_the_shifted_moments(act):
    sig = get_activation(act)
    sg = np.array([0.0, 0.3, 0.7])
    shift = np.array([[0.4, -1.2, 2.0], [-0.5, 0.1, 0.9]])
    m0, m1, m2 = _self_moments(sig, sg, shift, np.zeros_like(shift))
    s = np.broadcast_to(np.sqrt(1.0 + sg**2), shift.shape)
    A = shifted_hermite(sig, s, shift, 1)
    np.testing.assert_allclose(m0, A[0], atol=1e-8)
    np.testing.assert_allclose(m1, A[1], atol=1e-8)
    np.testing.assert_allclose(m2, _shifted_second_moment(sig, s, shift, owner="t"), atol=1e-8)


@pytest.mark.parametrize("act", ["tanh", "relu_centred"])
def test_self_moments_match_a_fine_grid(act):
    """sigma(h0 + sg g + m + b sigma'(h0)) on a fine grid of midpoints (Gaussian weights; the
    jump of relu' at 0 falls on a cell boundary). The reference's own error: spectral for tanh,
    O(spacing^2) at the moving relu kinks (about 1e-7 in h, 1e-5 in g)."""
    sig = get_activation(act)
    smooth = act == "tanh"
    dh, dg = (0.01, 0.1) if smooth else (5e-4, 0.02)
    h = (np.arange(-int(11 / dh), int(11 / dh)) + 0.5) * dh
    g = (np.arange(-int(8 / dg), int(8 / dg)) + 0.5) * dg
    wh, wg = np.exp(-h * h / 2), np.exp(-g * g / 2)
    wh, wg = wh / wh.sum(), wg / wg.sum()
    for sg, m, b in ((0.0, 0.4, 2.5), (0.0, -1.0, -1.5), (0.4, 0.3, 1.2), (0.25, -0.8, -2.0)):
        got = [v[0, 0] for v in _self_moments(sig, np.array([sg]), np.array([[m]]),
                                               np.array([[b]]))]
        if sg == 0.0:
            phi = sig(h + m + b * sig.d1(h))
            ref = (wh @ phi, wh @ (phi * h), wh @ phi**2)
            tol = 1e-6
        else:
            hs, ws = h, wh
            if not smooth:  # coarser midpoints in h for the 2-D relu reference
                hs = (np.arange(-5500, 5500) + 0.5) * 2e-3
                ws = np.exp(-hs * hs / 2)
                ws /= ws.sum()
            phi = sig(hs[:, None] + sg * g[None, :] + m + b * sig.d1(hs)[:, None])
            hh = (hs[:, None] + sg * g[None, :]) / math.sqrt(1.0 + sg * sg)
            ref = (ws @ phi @ wg, ws @ (phi * hh) @ wg, ws @ phi**2 @ wg)
            tol = 1e-6 if smooth else 3e-5
        np.testing.assert_allclose(got, ref, atol=tol)


def _model_parameters(act, layer, *, n, eta0):
    """t, gamma, nu of the mixture's fresh features, from the same bookkeeping."""
    st, fin, *_ = _prepare("t", act, "tanh", 2.0, 1.5, 0.0, n, layer, None, None, None, None,
                           None)
    eta = eta0 * math.sqrt(fin.N)
    q = fin._v2()
    t = eta * st["mu1"] * math.sqrt(q / fin.N)
    nu = eta**2 * fin.er2 * st["var_d1"] / (fin.psi * fin.N)
    return st, fin, eta, t, st["c1"] / math.sqrt(q), nu


@pytest.mark.parametrize("act, layer", [("tanh", "gaussian"), ("relu_centred", "rademacher")])
def test_mixture_on_fresh_inputs_is_the_feature_spectrum(act, layer):
    """On fresh inputs the mixture has no self-interaction: its outliers are those of
    feature_spectrum for the spiked random-feature model with the same t, gamma, nu (another
    latent rule: kappa built from (z, zeta) here, Gauss-Hermite in kappa there), times n/N."""
    n = 600
    st, fin, eta, t, gamma, nu = _model_parameters(act, layer, n=n, eta0=2.0)
    sig = get_activation(act)
    own, outs = _mixture(sig, layer, _law_latent(get_activation("tanh"), 0.0, fin, 12), fin=fin,
                         eta=eta, inputs="fresh")
    model = SpikedRandomFeatures(act, teacher="tanh", strength=t, overlap=gamma,
                                 second_layer=layer, inflation=nu)
    fs = feature_spectrum(model, psi=2.0, phi=1.5, N=int(fin.N), grid=120, n_types=16,
                          kappa_nodes=40)
    k = min(outs.size, fs.outliers.size)
    assert k >= 1
    np.testing.assert_allclose(outs[:k], fs.outliers[:k] * n / fin.N, rtol=1e-5)
    assert own.overlap_beta == pytest.approx(fs.hermite_overlaps[0, 1] * gamma**2, rel=1e-5)


@pytest.mark.parametrize("inputs", ["train", pytest.param("fresh", marks=pytest.mark.slow)])
def test_mixture_without_step_is_the_ck_law(inputs):
    law = conjugate_kernel_law("tanh", psi=2.0, phi=1.5, orientation="sample")
    r = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=0.0, n=600, inputs=inputs,
                    method="mixture")
    assert r.params["method"] == "mixture"
    assert not r.finite.is_outlier
    # the edge by bisection on the fixed point (resolution about 2e-4)
    assert r.finite.bulk_edge == pytest.approx(law.support[-1][1], rel=1e-3)


def test_auto_switch_and_small_step_are_unchanged():
    small = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=5.0, n=1600, inputs="train")
    first = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=5.0, n=1600, inputs="train",
                        method="first_order")
    assert small.params["method"] == "first_order"
    assert small.finite.position == first.finite.position
    big = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=2.0, alpha=0.5, n=600,
                      inputs="train")
    assert big.params["method"] == "mixture" and big.params["strength"] >= T_SWITCH
    assert small.finite.all_outliers == (small.finite.position,)
    assert big.finite.all_outliers[0] == big.finite.position
    # the training outlier exceeds the fresh one, both grow with eta
    fr = ck_outliers("tanh", "tanh", psi=2.0, phi=1.5, eta0=2.0, alpha=0.5, n=600,
                     inputs="fresh").finite
    assert big.finite.position > fr.position > 10.0 * fr.bulk_edge


def _giant_errors(act, layer, *, d, eta0, seeds):
    """Relative errors of the finite and draw predictions against the measured top eigenvalue
    of F F^T / N at alpha = 1/2, and the measured values."""
    n, N = 2 * d, int(1.5 * d)
    out = {inp: {"top": [], "draw": [], "finite": None} for inp in ("fresh", "train")}
    for seed in range(seeds):
        arrays, W1, X_ck = _step(act, "tanh", n=n, d=d, N=N, eta=eta0 * math.sqrt(N), seed=seed,
                                 second_layer=layer)
        for inputs, Xs in (("fresh", X_ck), ("train", arrays["X"])):
            extra = {"X_ck": X_ck} if inputs == "fresh" else {}
            p = ck_outliers(act, "tanh", psi=2.0, phi=1.5, eta0=eta0, alpha=0.5, n=n,
                            inputs=inputs, second_layer=layer, method="mixture", **arrays,
                            **extra)
            top = _top(act, Xs, W1)
            out[inputs]["top"].append(top)
            out[inputs]["draw"].append(p.draw.position / top - 1.0)
            out[inputs]["finite"] = p.finite.position
    return out


def test_giant_step_draw_matches_simulation_small():
    res = _giant_errors("tanh", "constant", d=250, eta0=2.0, seeds=1)
    for inputs, r in res.items():
        # conditional on the realized sample latent and a~: about 1-2% at n = 500
        assert abs(r["draw"][0]) < 0.03, (inputs, r)


@pytest.mark.slow
@pytest.mark.parametrize("act", ["tanh", "relu_centred"])
@pytest.mark.parametrize("layer", ["gaussian", "rademacher", "constant"])
@pytest.mark.parametrize("eta0", [1.0, 3.0])
def test_giant_step_outliers_at_n1400(act, layer, eta0):
    res = _giant_errors(act, layer, d=700, eta0=eta0, seeds=4)
    for inputs, r in res.items():
        top = np.array(r["top"])
        mean, se = top.mean(), top.std(ddof=1) / math.sqrt(top.size)
        print(f"{act} {layer} eta0={eta0} {inputs}: finite {r['finite']:.2f}, measured "
              f"{mean:.2f} +- {se:.2f}, draw errors {np.round(r['draw'], 4)}")
        assert abs(r["finite"] / mean - 1.0) < max(0.01, 3.0 * se / mean), (inputs, r)
        assert abs(np.mean(r["draw"])) < 0.015, (inputs, r)


@pytest.mark.parametrize("second_layer", ["constant", "gaussian", "rademacher"])
def test_fresh_finite_outlier_is_one_step_spike_with_the_row_norm_term(second_layer):
    # the row norms' coherent He_2 mean (a ReLU student with a constant second layer) enters
    # both predictions of the fresh-input CK outlier in the same way
    kw = dict(psi=2.0, phi=1.5, n=1200, second_layer=second_layer)
    fin = one_step_spike("relu_centred", "tanh", eta=6.0, **kw).finite
    r = ck_outliers("relu_centred", "tanh", eta0=6.0, method="first_order", **kw).finite
    assert fin.ck_is_outlier and r.is_outlier
    assert r.position == pytest.approx(fin.ck_outlier, rel=1e-10)
