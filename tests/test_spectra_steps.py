"""Gradient, gradient steps, label preprocessing and sampling of spikewise.spectra."""

from __future__ import annotations

import _naive
import numpy as np
import pytest

from spikewise._validation import InvalidParameterError
from spikewise.activations import Activation, get_activation
from spikewise.spectra.features import ck_features, ck_gram
from spikewise.spectra.sampling import (
    init_first_layer,
    init_second_layer,
    make_teacher,
    sample_dataset,
    sample_inputs,
)
from spikewise.spectra.steps import (
    LabelPreprocessing,
    gradient,
    gradient_step,
    network_output,
)


def _problem(n=60, d=20, N=30, seed=0, target="tanh", noise=0.1):
    rng = np.random.default_rng(seed)
    teacher = make_teacher(d, teacher=target, noise=noise, rng=rng)
    X, y = sample_dataset(n, teacher, rng=rng)
    W = init_first_layer(d, N, rng=rng)
    a = init_second_layer(N, rng=rng)
    return X, y, W, a, teacher


@pytest.mark.parametrize("name", ["relu", "tanh", "gelu", "he2"])
def test_gradient_matches_naive(name):
    X, y, W, a, _ = _problem()
    act = get_activation(name)
    G = gradient(X, y, W=W, a=a, activation=name)
    ref = _naive.gradient(X, y, W, a, act)
    np.testing.assert_allclose(G, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    f = network_output(X, W=W, a=a, activation=name)
    np.testing.assert_allclose(f, _naive.network_output(X, W, a, act), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["tanh", "softplus"])
def test_gradient_matches_finite_differences(name):
    X, y, W, a, _ = _problem(n=25, d=6, N=5, seed=1)
    act = get_activation(name)
    G = gradient(X, y, W=W, a=a, activation=name)
    h = 1e-6
    fd = np.empty_like(W)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            Wp, Wm = W.copy(), W.copy()
            Wp[i, j] += h
            Wm[i, j] -= h
            fd[i, j] = (_naive.loss(X, y, Wp, a, act) - _naive.loss(X, y, Wm, a, act)) / (2 * h)
    np.testing.assert_allclose(G, fd, rtol=1e-6, atol=1e-9)


def test_step_is_our_convention_and_keeps_output():
    X, y, W, a, _ = _problem()
    act = get_activation("relu")
    res = gradient_step(X, y, W=W, a=a, activation="relu", eta0=2.0, alpha=0.25)
    eta = 2.0 * W.shape[1] ** 0.25
    assert res.eta == pytest.approx(eta)
    np.testing.assert_allclose(res.W, _naive.step(X, y, W, a, act, eta), rtol=1e-12, atol=1e-13)
    # explicit formula: W1 = W0 + (eta/n) X^T [((y - f) a^T) * sigma'(X W0)]
    Z = X @ W
    f = act(Z) @ a / np.sqrt(W.shape[1])
    W1 = W + eta / X.shape[0] * X.T @ (((y - f)[:, None] * a[None, :]) * act.d1(Z))
    np.testing.assert_allclose(res.W, W1, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(res.output, f, rtol=1e-12, atol=1e-14)
    # dropping the output would give a different update
    W1_drop = W + eta / X.shape[0] * X.T @ ((y[:, None] * a[None, :]) * act.d1(Z))
    assert np.abs(W1_drop - res.W).max() > 1e-3 * np.abs(res.W - W).max()
    from spikewise.conventions import learning_rate

    assert learning_rate(2.0, N=W.shape[1], alpha=0.25) == pytest.approx(eta)


def test_float32_step_close_to_float64():
    X, y, W, a, _ = _problem(n=200, d=50, N=80)
    r64 = gradient_step(X, y, W=W, a=a, activation="tanh", eta0=1.0)
    r32 = gradient_step(X, y, W=W, a=a, activation="tanh", eta0=1.0, dtype="float32")
    assert r32.W.dtype == np.float32
    np.testing.assert_allclose(r32.W, r64.W, rtol=0, atol=1e-5)


def test_custom_activation_fallback_equals_preset():
    X, y, W, a, _ = _problem()
    t = get_activation("tanh")
    custom = Activation.from_callable(np.tanh, d1=t.d1, d2=t.d2, name="mytanh")
    r1 = gradient_step(X, y, W=W, a=a, activation=custom, eta0=1.5)
    r2 = gradient_step(X, y, W=W, a=a, activation="tanh", eta0=1.5)
    np.testing.assert_allclose(r1.W, r2.W, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(ck_features(X, W, activation=custom), np.tanh(X @ W), rtol=1e-14)


def test_label_preprocessing_uses_training_statistics():
    X, y, W, a, teacher = _problem(n=400, d=20, N=10, target="relu")
    prep = LabelPreprocessing.fit(X, y, remove=("mean", "linear"))
    yt = prep.transform(X, y)
    assert abs(yt.mean()) < 0.2 * abs(y.mean()) + 1e-12 or abs(y.mean()) < 1e-12
    mean = y.mean()
    np.testing.assert_allclose(prep.mean, mean)
    np.testing.assert_allclose(prep.coef, X.T @ (y - mean) / X.shape[0])
    np.testing.assert_allclose(yt, y - mean - X @ prep.coef)
    # the test transform uses the same fitted statistics
    rng = np.random.default_rng(9)
    Xt, ytest = sample_dataset(50, teacher, rng=rng)
    np.testing.assert_allclose(prep.transform(Xt, ytest), ytest - mean - Xt @ prep.coef)
    # the step with preprocess equals the step on the transformed labels
    r1 = gradient_step(X, y, W=W, a=a, eta0=1.0, preprocess=("mean", "linear"))
    r2 = gradient_step(X, yt, W=W, a=a, eta0=1.0)
    np.testing.assert_allclose(r1.W, r2.W, rtol=1e-13, atol=1e-15)
    # relu teacher: mu1 = 1/2, so the He_1 part estimate is close to beta/2
    assert np.linalg.norm(prep.coef - 0.5 * teacher.beta) < 0.5


def test_sampling_shapes_scales_and_dtype():
    rng = np.random.default_rng(0)
    W = init_first_layer(400, 300, rng=rng)
    assert W.shape == (400, 300)
    assert np.var(W) * 400 == pytest.approx(1.0, rel=0.02)
    Wu = init_first_layer(40, 30, first_layer="unit", rng=rng)
    np.testing.assert_allclose(np.linalg.norm(Wu, axis=0), 1.0, rtol=1e-14)
    for kind in ("gaussian", "rademacher", "constant"):
        a = init_second_layer(500, second_layer=kind, rng=rng)
        assert np.sum(a**2) == pytest.approx(1.0, rel=0.2)
    assert np.all(init_second_layer(4, second_layer="constant") == 0.5)
    a_pm = init_second_layer(50, second_layer="rademacher", rng=1)
    assert set(np.unique(a_pm * np.sqrt(50))) <= {-1.0, 1.0}
    X64 = sample_inputs(5, 3, rng=3)
    X32 = sample_inputs(5, 3, rng=3, dtype="float32")
    assert X32.dtype == np.float32 and np.array_equal(X32, X64.astype(np.float32))
    t = make_teacher(30, teacher=["he1", "he2"], n_index=2, rng=2)
    np.testing.assert_allclose(t.directions.T @ t.directions, np.eye(2), atol=1e-14)
    X = sample_inputs(10, 30, rng=4)
    z = X @ t.directions
    np.testing.assert_allclose(t.clean(X), z[:, 0] + z[:, 1] ** 2 - 1, rtol=1e-12)
    tc = make_teacher(30, teacher=lambda Z: Z[:, 0] * Z[:, 1], n_index=2, rng=2)
    np.testing.assert_allclose(tc.clean(X), z[:, 0] * z[:, 1], rtol=1e-12)
    b = np.zeros(30)
    b[3] = 2.0
    tb = make_teacher(30, directions=b)
    np.testing.assert_allclose(tb.beta, b / 2)


def test_same_seed_same_numbers():
    a1 = _problem(seed=5)
    a2 = _problem(seed=5)
    for u, v in zip(a1[:4], a2[:4], strict=True):
        assert np.array_equal(u, v)


def test_features_and_gram_match_naive():
    X, _, W, _, _ = _problem()
    act = get_activation("erf")
    F = ck_features(X, W, activation="erf")
    np.testing.assert_allclose(F, _naive.features(X, W, act), rtol=1e-14, atol=1e-15)
    for o in ("feature", "sample"):
        np.testing.assert_allclose(ck_gram(F, orientation=o), _naive.gram(F, o), rtol=1e-13,
                                   atol=1e-14)
    F32 = ck_features(X, W, activation="erf", dtype="float32")
    assert F32.dtype == np.float32
    np.testing.assert_allclose(F32, F, atol=1e-5)


def test_bad_inputs():
    X, y, W, a, _ = _problem()
    Xn = X.copy()
    Xn[0, 0] = np.nan
    yi = y.copy()
    yi[3] = np.inf
    bad_calls = [
        lambda: gradient_step(Xn, y, W=W, a=a),
        lambda: gradient_step(X, yi, W=W, a=a),
        lambda: gradient_step(X, y[:-1], W=W, a=a),
        lambda: gradient_step(X, y, W=W[:-1], a=a),
        lambda: gradient_step(X, y, W=W, a=a[:-1]),
        lambda: gradient_step(X, y, W=W, a=a, eta0=-1.0),
        lambda: gradient_step(X, y, W=W, a=a, activation="nope"),
        lambda: gradient_step(X, y, W=W, a=a, dtype="float16"),
        lambda: gradient_step(X, y, W=W, a=a, preprocess="quadratic"),
        lambda: gradient(X, y, W=W, a=a, activation="relux"),
        lambda: ck_features(X, W.T, activation="relu"),
        lambda: ck_gram(X, orientation="diag"),
        lambda: sample_inputs(0, 3),
        lambda: sample_inputs(3, -1),
        lambda: init_first_layer(3, 0),
        lambda: init_first_layer(3, 2, first_layer="orthogonal"),
        lambda: init_second_layer(3, second_layer="ones"),
        lambda: make_teacher(5, teacher="nope"),
        lambda: make_teacher(5, teacher=["he1"], n_index=2),
        lambda: make_teacher(5, noise=-0.1),
        lambda: sample_dataset(3, "teacher"),
    ]
    for call in bad_calls:
        with pytest.raises(InvalidParameterError):
            call()
    with pytest.raises(InvalidParameterError, match="eta0"):
        gradient_step(X, y, W=W, a=a, eta0=-1.0)


def test_raw_linear_fit_matches_giantstep_label_preprocessing():
    from spikewise.spectra.steps import LabelPreprocessing

    rng = np.random.default_rng(11)
    Z = rng.standard_normal((300, 40))
    Y = np.tanh(Z[:, 0]) + 0.5 + Z[:, 0] ** 2
    # GiantStep's notebook: centre, then remove Z (Z^T Y / n) fitted on the raw labels
    expected = Y - Y.mean() - Z @ (Z.T @ Y / Z.shape[0])
    fitted = LabelPreprocessing.fit(Z, Y, remove=("mean", "linear"), linear_fit="raw")
    np.testing.assert_allclose(fitted.transform(Z, Y), expected, rtol=1e-13, atol=1e-13)
    centred = LabelPreprocessing.fit(Z, Y, remove=("mean", "linear"))
    assert not np.allclose(centred.transform(Z, Y), expected)
    with pytest.raises(InvalidParameterError, match="'linear_fit'"):
        LabelPreprocessing.fit(Z, Y, remove="linear", linear_fit="paper")


def test_dependent_teacher_directions_name_the_rank():
    B = np.ones((5, 2))  # two equal columns
    with pytest.raises(InvalidParameterError,
                       match=r"'directions' parameter of make_teacher must have linearly "
                             r"independent columns\. Got 2 columns of rank 1 instead\."):
        make_teacher(5, n_index=2, directions=B)
    with pytest.raises(InvalidParameterError, match="Got 1 columns of rank 0 instead"):
        make_teacher(5, directions=np.zeros(5))
