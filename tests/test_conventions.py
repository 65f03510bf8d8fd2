"""Convention presets: round trips, and one gradient step / one ridge fit written in each
paper's own variables equals ours after conversion (to 1e-12)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation
from spikewise.conventions import OUR_KEYS, PRESETS, get_preset, learning_rate

n, d, N = 50, 20, 30


# ------------------------------------------------------------------------------------------
# our convention, written once
# ------------------------------------------------------------------------------------------
def our_step(X, y, W0, a, act, eta):
    """W1 = W0 + (eta / n) X^T [((y - f(X)) a^T) * sigma'(X W0)]."""
    n_, N_ = X.shape[0], W0.shape[1]
    f = act(X @ W0) @ a / np.sqrt(N_)
    return W0 + (eta / n_) * X.T @ (np.outer(y - f, a) * act.d1(X @ W0))


def our_ridge(F, y, lam):
    """b = (F^T F / n + lam I)^{-1} F^T y / n; returns (a_hat = sqrt(N) b, predictions F b)."""
    n_, N_ = F.shape
    b = np.linalg.solve(F.T @ F / n_ + lam * np.eye(N_), F.T @ y / n_)
    return np.sqrt(N_) * b, F @ b


def _problem(seed, act_name):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    y = np.tanh(X @ beta) + 0.1 * rng.standard_normal(n)
    return rng, X, y, get_activation(act_name)


def test_our_step_is_minus_eta_sqrtN_times_the_gradient():
    # finite differences of L = (1/(2n)) sum (f - y)^2 on a tiny problem
    rng = np.random.default_rng(0)
    n_, d_, N_ = 6, 3, 4
    X = rng.standard_normal((n_, d_))
    y = rng.standard_normal(n_)
    W0 = rng.standard_normal((d_, N_)) / np.sqrt(d_)
    a = rng.standard_normal(N_) / np.sqrt(N_)
    act = get_activation("tanh")

    def loss(W):
        return np.sum((act(X @ W) @ a / np.sqrt(N_) - y) ** 2) / (2 * n_)

    grad = np.zeros_like(W0)
    h = 1e-6
    for idx in np.ndindex(W0.shape):
        E = np.zeros_like(W0)
        E[idx] = h
        grad[idx] = (loss(W0 + E) - loss(W0 - E)) / (2 * h)
    eta = 0.7
    np.testing.assert_allclose(
        our_step(X, y, W0, a, act, eta), W0 - eta * np.sqrt(N_) * grad, rtol=0, atol=1e-9
    )


# ------------------------------------------------------------------------------------------
# each paper's step, written naively in its own variables
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act_name", ["tanh", "relu"])
@pytest.mark.parametrize("key", ["ba2022", "moniri2023"])
def test_step_ba_and_moniri(key, act_name):
    rng, X, y, act = _problem(1, act_name)
    W0 = rng.standard_normal((d, N)) / np.sqrt(d)  # d x N
    a = rng.standard_normal(N) / np.sqrt(N)
    eta = 3.7
    # Ba et al.: W1 = W0 + eta sqrt(N) G0,
    # G0 = (1/n) X^T [((1/sqrt N)(y - (1/sqrt N) sigma(X W0) a) a^T) * sigma'(X W0)]
    f = act(X @ W0) @ a / np.sqrt(N)
    G0 = X.T @ ((1 / np.sqrt(N)) * np.outer(y - f, a) * act.d1(X @ W0)) / n
    W1_paper = W0 + eta * np.sqrt(N) * G0
    ours = get_preset(key).to_ours(n=n, d=d, N=N, eta=eta, W=W0, a=a)
    W1_ours = our_step(X, y, ours["W"], ours["a"], act, ours["eta"])
    np.testing.assert_allclose(W1_ours, W1_paper, rtol=1e-12, atol=1e-12)


def test_moniri_learning_rate_law():
    pre = get_preset("moniri2023")
    eta_c, alpha = 0.8, 0.3
    ours = pre.to_ours(n=n, N=N, alpha=alpha, eta_c=eta_c)
    # their eta = eta_c n^alpha equals our eta0 N^alpha
    assert learning_rate(ours["eta0"], N=N, alpha=ours["alpha"]) == pytest.approx(
        eta_c * n**alpha, rel=1e-14
    )


@pytest.mark.parametrize("act_name", ["relu", "tanh"])
def test_step_dandi_giantstep(act_name):
    rng, Z, Y, act = _problem(2, act_name)
    p = N
    f, fprime = act, act.d1
    # as in GiantStep single_step.ipynb: W is p x d, f = sigma(Z W^T) a / sqrt(p)
    W0 = 1 / np.sqrt(d) * rng.standard_normal((p, d))
    a0 = 1 / np.sqrt(p) * rng.standard_normal(p)
    eta = 10 * np.sqrt(n) * np.sqrt(p)

    def fnn0(D, W, a):
        return 1 / np.sqrt(p) * f(D @ W.T) @ a

    G = 1 / n * Z.T @ (1 / np.sqrt(p) * np.outer(Y - fnn0(Z, W0, a0), a0) * fprime(Z @ W0.T))
    Wgd = W0 + eta * G.T

    ours = get_preset("dandi2023").to_ours(n=n, d=d, p=p, eta=eta, W=W0, a=a0)
    assert ours["W"].shape == (d, N)
    assert ours["eta"] == pytest.approx(10 * np.sqrt(n), rel=1e-14)
    W1 = our_step(Z, Y, ours["W"], ours["a"], act, ours["eta"])
    np.testing.assert_allclose(W1, Wgd.T, rtol=1e-12, atol=1e-12)
    # the network functions agree too
    np.testing.assert_allclose(
        act(Z @ ours["W"]) @ ours["a"] / np.sqrt(N), fnn0(Z, W0, a0), rtol=1e-13, atol=1e-14
    )
    # and back
    back = get_preset("dandi2023").from_ours(W=W1, eta=ours["eta"], N=N, d=d, n=n)
    np.testing.assert_array_equal(back["W"], W1.T)  # their p x d layout
    np.testing.assert_allclose(back["W"], Wgd, rtol=1e-12, atol=1e-12)
    assert back["eta"] == pytest.approx(eta, rel=1e-14)


@pytest.mark.parametrize("act_name", ["tanh", "relu"])
def test_step_cui_onestepgd(act_name):
    rng, Z, Y, act = _problem(3, act_name)
    p = N
    f, fprime = act, act.d1
    # as in OneStepGD_asymptotics Simulations.ipynb
    eta_tilde = 1.3
    eta = eta_tilde * np.sqrt(p)
    a0 = np.ones(p) / np.sqrt(p)
    W0 = 1 / np.sqrt(d) * rng.standard_normal((p, d))
    W0 = (W0.T / np.linalg.norm(W0, axis=1)).T

    def fnn0(D, W, a):
        return f(D @ W.T) @ a / np.sqrt(p)

    n0 = n
    G = 1 / n0 * Z.T @ (1 / np.sqrt(p) * np.outer(Y - fnn0(Z, W0, a0), a0) * fprime(Z @ W0.T))
    Wnew = W0 + eta * np.sqrt(p) * G.T

    ours = get_preset("cui2024").to_ours(n0=n0, d=d, p=p, eta_tilde=eta_tilde, W=W0, a=a0)
    W1 = our_step(Z, Y, ours["W"], ours["a"], act, ours["eta"])
    np.testing.assert_allclose(W1, Wnew.T, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------
# ridge fits
# ------------------------------------------------------------------------------------------
def _giantstep_ridge(Xtrain, Ytrain, lamb):
    """get_errors_ridge of GiantStep / OneStepGD_asymptotics: w and the train predictions."""
    n_, p = Xtrain.shape
    Xs = Xtrain / np.sqrt(p)
    if n_ >= p:
        w = np.linalg.inv(Xs.T @ Xs + lamb * np.identity(p)) @ Xs.T @ Ytrain
    else:
        w = Xs.T @ np.linalg.inv(Xs @ Xs.T + lamb * np.identity(n_)) @ Ytrain
    return w, Xtrain @ w / np.sqrt(p)


@pytest.mark.parametrize("n_ridge", [80, 20])
@pytest.mark.parametrize("key", ["dandi2023", "cui2024"])
def test_ridge_dandi_cui(key, n_ridge):
    rng = np.random.default_rng(4)
    F = np.tanh(rng.standard_normal((n_ridge, N)))
    y = rng.standard_normal(n_ridge)
    lamb = 0.37
    w, pred = _giantstep_ridge(F, y, lamb)
    # GiantStep fits the ridge on the step's batch (its n); Cui's n is the ridge sample
    ours = get_preset(key).to_ours(n=n_ridge, p=N, lam=lamb)
    a_hat, pred_ours = our_ridge(F, y, ours["lam"])
    np.testing.assert_allclose(pred_ours, pred, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a_hat, w, rtol=1e-10, atol=1e-12)


def test_ridge_ba():
    # Ba et al.: argmin (1/n)||y - F a / sqrt N||^2 + (lam/N)||a||^2, normal equations in a
    rng = np.random.default_rng(5)
    F = np.tanh(rng.standard_normal((n, N)))
    y = rng.standard_normal(n)
    lam = 0.2
    a_paper = np.linalg.solve(F.T @ F / (n * N) + lam / N * np.eye(N), F.T @ y / (n * np.sqrt(N)))
    ours = get_preset("ba2022").to_ours(lam=lam)
    a_hat, _ = our_ridge(F, y, ours["lam"])
    np.testing.assert_allclose(a_hat, a_paper, rtol=1e-10)


def test_dandi_ridge_defaults_to_the_step_batch():
    pre = get_preset("dandi2023")
    assert pre.to_ours(n=10, p=30, lam=2.0)["lam"] == pytest.approx(6.0)
    assert pre.to_ours(n=10, n_ridge=60, p=30, lam=2.0)["lam"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------
# round trips
# ------------------------------------------------------------------------------------------
sizes = st.integers(min_value=1, max_value=10**7)
pos = st.floats(min_value=0.0, max_value=1e8, allow_nan=False, allow_infinity=False)
expo = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False)


def _assert_same(a, b):
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k])
        elif isinstance(a[k], int):
            assert a[k] == b[k] and isinstance(b[k], int)
        else:
            assert b[k] == pytest.approx(a[k], rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("key", list(PRESETS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trips(key, data):
    pre = get_preset(key)
    size_keys = [r.ours for r in pre.rules if r.kind == "size"]
    ours = {k: data.draw(sizes, label=k) for k in size_keys}
    for r in pre.rules:
        if r.kind == "nonneg":
            ours[r.ours] = data.draw(pos, label=r.ours)
        elif r.kind == "exponent":
            ours[r.ours] = data.draw(expo, label=r.ours)
    dd, NN = 3, 4
    ours.update(d=dd, N=NN)
    rng = np.random.default_rng(0)
    ours["W"] = rng.standard_normal((dd, NN))
    ours["a"] = rng.standard_normal(NN)
    paper = pre.from_ours(**ours)
    assert set(paper) == set(pre.paper_keys)
    _assert_same(ours, pre.to_ours(**paper))
    _assert_same(paper, pre.from_ours(**pre.to_ours(**paper)))
    # subsets convert too (only what is given comes back)
    just_sizes = {k: v for k, v in ours.items() if k in ("n", "d", "N", "n_ridge")}
    assert set(pre.to_ours(**pre.from_ours(**just_sizes))) == set(just_sizes)


def test_presets_table_fields():
    assert set(PRESETS) >= {"ours", "ba2022", "moniri2023", "dandi2023", "cui2024"}
    for pre in PRESETS.values():
        for field in (
            "citation",
            "output",
            "a_scaling",
            "W_layout",
            "loss",
            "eta_rule",
            "lam_rule",
            "where",
            "notes",
        ):
            assert getattr(pre, field)
        assert set(pre.our_keys) <= set(OUR_KEYS)
        assert pre.key in pre.describe()
    with pytest.raises(AttributeError):
        PRESETS["ba2022"].key = "x"  # frozen
    with pytest.raises(TypeError):
        PRESETS["new"] = PRESETS["ours"]  # read-only mapping


def test_aliases():
    assert get_preset("GiantStep") is PRESETS["dandi2023"]
    assert get_preset("cui") is PRESETS["cui2024"]
    assert get_preset(PRESETS["ba2022"]) is PRESETS["ba2022"]


# ------------------------------------------------------------------------------------------
# initializations
# ------------------------------------------------------------------------------------------
def test_initialize():
    for key, pre in PRESETS.items():
        W, a = pre.initialize(20, 30, rng=1)
        assert W.shape == (20, 30) and a.shape == (30,)
        W2, a2 = pre.initialize(20, 30, rng=1)
        np.testing.assert_array_equal(W, W2)
        if key == "cui2024":
            np.testing.assert_allclose(np.linalg.norm(W, axis=0), 1.0, rtol=1e-14)
            np.testing.assert_allclose(a, 1 / math.sqrt(30), rtol=1e-15)
    # Gaussian init: entries of variance 1/d and 1/N (aggregate check, tolerance ~ 5 sigma)
    W, a = get_preset("ours").initialize(400, 500, rng=2)
    assert abs(W.var() * 400 - 1) < 5 * math.sqrt(2 / W.size)
    assert abs(a.var() * 500 - 1) < 5 * math.sqrt(2 / a.size)


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------
def test_unknown_preset_lists_options():
    with pytest.raises(InvalidParameterError) as info:
        get_preset("ba2021")
    assert "'ba2022'" in str(info.value) and "'cui2024'" in str(info.value)
    with pytest.raises(InvalidParameterError):
        get_preset(3)


def test_unknown_and_missing_keys():
    with pytest.raises(InvalidParameterError, match="'eta_tilde'"):
        get_preset("dandi2023").to_ours(eta_tilde=1.0)  # a Cui name, not GiantStep's
    with pytest.raises(InvalidParameterError, match="needs 'p'"):
        get_preset("cui2024").to_ours(eta_tilde=1.0)
    with pytest.raises(InvalidParameterError, match="needs 'n'"):
        get_preset("cui2024").to_ours(lam=1.0, p=10)
    with pytest.raises(InvalidParameterError, match="needs 'n_ridge'"):
        get_preset("cui2024").from_ours(lam=1.0, N=10)
    with pytest.raises(InvalidParameterError, match="shape"):
        get_preset("cui2024").to_ours(W=np.zeros((d, N)), p=N, d=d)  # wrong layout
    with pytest.raises(InvalidParameterError, match="length N"):
        get_preset("ba2022").to_ours(a=np.zeros(3), N=4)


bad_values = st.one_of(
    st.just(float("nan")),
    st.just(float("inf")),
    st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
    st.none(),
    st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(value=bad_values, key=st.sampled_from(["eta", "lam"]))
def test_bad_scalar_values(value, key):
    with pytest.raises(InvalidParameterError, match=repr(key)):
        get_preset("dandi2023").to_ours(n=10, p=20, **{key: value})


@settings(max_examples=40, deadline=None)
@given(
    value=st.one_of(bad_values, st.integers(max_value=0), st.floats(0.1, 0.9)),
    key=st.sampled_from(["n0", "n", "d", "p"]),
)
def test_bad_sizes(value, key):
    with pytest.raises(InvalidParameterError, match=repr(key)):
        get_preset("cui2024").to_ours(**{key: value})


@settings(max_examples=20, deadline=None)
@given(st.one_of(bad_values, st.just(np.zeros(3)), st.just(np.full((2, 2), np.nan))))
def test_bad_arrays(value):
    with pytest.raises(InvalidParameterError, match="'W'"):
        get_preset("ours").from_ours(W=value)


def test_learning_rate_law():
    assert learning_rate(2.0, N=100, alpha=0.5) == pytest.approx(20.0)
    with pytest.raises(InvalidParameterError, match="'eta0'"):
        learning_rate(-1.0, N=100, alpha=0.5)
    with pytest.raises(InvalidParameterError, match="'N'"):
        learning_rate(1.0, N=0, alpha=0.5)


@pytest.mark.parametrize("act_name", ["relu", "tanh"])
def test_giantstep_step_through_spikewise_gradient_step(act_name):
    # integration: the converted parameters drive spikewise's own step to GiantStep's W1
    from spikewise.spectra.steps import gradient_step

    rng, Z, Y, act = _problem(6, act_name)
    p = N
    W0 = 1 / np.sqrt(d) * rng.standard_normal((p, d))
    a0 = 1 / np.sqrt(p) * rng.standard_normal(p)
    eta = 10 * np.sqrt(n) * np.sqrt(p)
    fnn = 1 / np.sqrt(p) * act(Z @ W0.T) @ a0
    G = 1 / n * Z.T @ (1 / np.sqrt(p) * np.outer(Y - fnn, a0) * act.d1(Z @ W0.T))
    Wgd = W0 + eta * G.T
    ours = get_preset("dandi2023").to_ours(n=n, d=d, p=p, eta=eta, W=W0, a=a0)
    res = gradient_step(Z, Y, W=ours["W"], a=ours["a"], activation=act, eta0=ours["eta"])
    np.testing.assert_allclose(res.W, Wgd.T, rtol=1e-12, atol=1e-12)
