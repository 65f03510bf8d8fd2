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


_KNOWN = pytest.mark.xfail(
    strict=True,
    reason="ReLU with a constant second layer: the training-input outlier is under-predicted "
           "by 2-4% (the common shift of all neurons along He_2 is not modelled)")


@pytest.mark.slow
@pytest.mark.parametrize("act, eta, second_layer", [
    ("tanh", 5.0, "gaussian"), ("tanh", 5.0, "rademacher"), ("tanh", 5.0, "constant"),
    ("relu_centred", 4.0, "gaussian"), ("relu_centred", 4.0, "rademacher"),
    pytest.param("relu_centred", 4.0, "constant", marks=_KNOWN),
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
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    base = dict(psi=2.0, phi=1.5, eta0=1.0)
    base.update(kwargs)
    with pytest.raises(InvalidParameterError, match=f"'{name}'"):
        ck_outliers("tanh", "tanh", **base)
