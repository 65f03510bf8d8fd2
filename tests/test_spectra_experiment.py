"""one_step / two_step: equality with the naive step, reproducibility, presets, bad input."""

from __future__ import annotations

import _naive
import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from spikewise._validation import InvalidParameterError
from spikewise.activations import get_activation
from spikewise.spectra.experiment import one_step, two_step
from spikewise.spectra.spectrum import Spectrum

SMALL = dict(n=300, d=100, N=150)


def test_one_step_equals_naive_step_and_is_labelled():
    r = one_step(**SMALL, activation="tanh", teacher="relu", noise=0.1, eta0=2.0, alpha=0.1,
                 rng=1, lambdas=[0.01, 1.0], n_test=100)
    act = get_activation("tanh")
    eta = 2.0 * 150**0.1
    assert r.etas == (pytest.approx(eta),) and r.params["eta"] == pytest.approx(eta)
    W1 = _naive.step(r.X, r.y, r.W0, r.a, act, eta)
    np.testing.assert_allclose(r.W1, W1, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(r.outputs["step1"], _naive.network_output(r.X, r.W0, r.a, act),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r.spectra["W1"].values, _naive.singular_values(W1), rtol=1e-11)
    F1 = act(r.X @ W1)
    ref = _naive.eigvals(_naive.gram(F1, "feature"))
    np.testing.assert_allclose(r.spectra["ck1"].values, ref, rtol=1e-9, atol=1e-11 * ref.max())
    ref0 = _naive.eigvals(_naive.gram(act(r.X @ r.W0), "feature"))
    np.testing.assert_allclose(r.spectra["ck0"].values, ref0, rtol=1e-9,
                               atol=1e-11 * ref0.max())
    s = np.linalg.svd(W1 - r.W0, compute_uv=False)
    assert r.spike.value == pytest.approx(s[0], rel=1e-9)
    assert set(r.spectra) == {"W0", "W1", "ck0", "ck1"}
    assert all(isinstance(v, Spectrum) for v in r.spectra.values())
    assert r.spectra["W1"].params["eta"] == pytest.approx(eta)
    assert r.alignments["W1"].shape == (5, 1) and r.alignments["ck1"].shape == (5, 1, 3)
    np.testing.assert_allclose(r.ridge.coef[1], _naive.ridge(F1, r.y, 1.0), rtol=1e-8,
                               atol=1e-12)
    assert r.ridge.test_error.shape == (2,)
    assert r.seed == 1
    with pytest.raises(AttributeError):
        r.params = {}


def test_spike_aligns_with_teacher():
    r = one_step(n=1200, d=300, N=400, activation="relu", teacher="he1", eta0=4.0, rng=2,
                 spectra=("W1",), k_top=2)
    # the top left singular vector of W1 and the update's spike both point to beta
    assert r.alignments["spike1"][0, 0] > 0.6
    assert r.alignments["W1"][0, 0] > 0.5
    assert r.spike.value > 1.0


def test_same_seed_identical_with_1_and_2_numba_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:  # 1 against 1 thread would compare a run to itself
        pytest.skip("needs NUMBA_NUM_THREADS >= 2 to compare 1 with 2 threads")
    runs = []
    for t in (1, 2):
        old = numba.get_num_threads()
        numba.set_num_threads(t)
        try:
            with threadpool_limits(limits=1):
                runs.append(one_step(**SMALL, activation="gelu", eta0=3.0, rng=7, k_top=2))
        finally:
            numba.set_num_threads(old)
    a, b = runs
    for key in ("W0", "W1"):
        assert np.array_equal(a.weights[key], b.weights[key])
    for key in a.spectra:
        assert np.array_equal(a.spectra[key].values, b.spectra[key].values)
    assert np.array_equal(a.outputs["step1"], b.outputs["step1"])
    c = one_step(**SMALL, activation="gelu", eta0=3.0, rng=7, k_top=2, n_threads=1)
    assert np.array_equal(a.W1, c.W1)
    # BLAS with two threads may reorder sums: same sample, results equal to rounding
    e = one_step(**SMALL, activation="gelu", eta0=3.0, rng=7, k_top=2, n_threads=2)
    assert np.array_equal(a.W0, e.W0)
    np.testing.assert_allclose(e.W1, a.W1, rtol=0, atol=1e-13)
    ref = a.spectra["ck1"].values
    np.testing.assert_allclose(e.spectra["ck1"].values, ref, rtol=1e-12, atol=1e-12 * ref.max())
    d = one_step(**SMALL, activation="gelu", eta0=3.0, rng=8, k_top=2)
    assert not np.array_equal(a.W0, d.W0)


def test_two_step_reuse_and_fresh():
    act = get_activation("relu")
    kw = dict(**SMALL, activation="relu", teacher="he2", eta0=2.0, eta0_2=1.5, alpha_2=0.1,
              k_top=1)
    r = two_step(**kw, batch="reuse", rng=3)
    W2 = _naive.step(r.X, r.y, r.W1, r.a, act, 1.5 * 150**0.1)
    np.testing.assert_allclose(r.W2, W2, rtol=1e-12, atol=1e-13)
    assert set(r.spectra) == {"W0", "W1", "W2", "ck0", "ck1", "ck2"}
    f = two_step(**kw, batch="fresh", rng=3)
    np.testing.assert_array_equal(f.W1, r.W1)  # same first step
    assert not np.allclose(f.W2, r.W2)


def test_float32_spectra_agree():
    r64 = one_step(**SMALL, activation="tanh", eta0=2.0, rng=4, k_top=0)
    r32 = one_step(**SMALL, activation="tanh", eta0=2.0, rng=4, k_top=0, dtype="float32")
    assert r32.W1.dtype == np.float32
    for key in r64.spectra:
        assert r32.spectra[key].ks(r64.spectra[key]) < 0.02
        np.testing.assert_allclose(r32.spectra[key].top(3), r64.spectra[key].top(3), rtol=1e-4)


def test_options_fresh_inputs_sample_orientation_preprocess():
    r = one_step(**SMALL, activation="relu", teacher="relu", eta0=1.0, rng=5,
                 ck_inputs="fresh", orientation="sample", preprocess=("mean", "linear"),
                 k_top=1)
    assert r.spectra["ck1"].values.shape == (300,)
    assert np.count_nonzero(r.spectra["ck1"].values == 0) == 150
    assert r.X_ck.shape == r.X.shape and not np.array_equal(r.X_ck, r.X)
    act = get_activation("relu")
    ref = _naive.eigvals(_naive.gram(act(r.X_ck @ r.W1), "sample"))
    np.testing.assert_allclose(r.spectra["ck1"].values, ref, rtol=1e-9, atol=1e-11 * ref.max())
    ref0 = _naive.eigvals(_naive.gram(act(r.X_ck @ r.W0), "sample"))
    np.testing.assert_allclose(r.spectra["ck0"].values, ref0, rtol=1e-9,
                               atol=1e-11 * ref0.max())
    y_raw = r.teacher.clean(r.X)  # noise = 0
    m = y_raw.mean()
    coef = r.X.T @ (y_raw - m) / r.X.shape[0]
    np.testing.assert_allclose(r.y, y_raw - m - r.X @ coef, rtol=1e-12, atol=1e-13)
    u = one_step(**SMALL, first_layer="unit", second_layer="rademacher", rng=5, k_top=0,
                 spectra=("W0",))
    np.testing.assert_allclose(np.linalg.norm(u.W0, axis=0), 1.0)


@pytest.mark.parametrize("key", ["dandi2023", "cui2024"])
def test_preset_step_equals_ours(key):
    """A step in the paper's convention (its code's formula), converted, equals one_step's."""
    from spikewise.conventions import get_preset

    preset = get_preset(key)
    n, d, N = SMALL["n"], SMALL["d"], SMALL["N"]
    eta_ours = 1.7
    opts = {"cui2024": dict(first_layer="unit", second_layer="constant")}.get(key, {})
    r = one_step(n=n, d=d, N=N, activation="tanh", teacher="tanh", eta0=eta_ours, rng=6,
                 spectra=(), k_top=0, **opts)
    act = get_activation("tanh")
    X, y, a = r.X, r.y, r.a
    if key == "dandi2023":
        paper = preset.from_ours(N=N, eta=eta_ours, W=r.W0)
        W0p, eta = paper["W"], paper["eta"]  # p x d
        f = act(X @ W0p.T) @ a / np.sqrt(N)
        G = X.T @ ((((y - f)[:, None] * a[None, :]) / np.sqrt(N)) * act.d1(X @ W0p.T)) / n
        W1p = W0p + eta * G.T
    else:
        paper = preset.from_ours(N=N, eta=eta_ours, W=r.W0)
        W0p, eta_t = paper["W"], paper["eta_tilde"]
        f = act(X @ W0p.T) @ a / np.sqrt(N)
        G = X.T @ ((((y - f)[:, None] * a[None, :]) / np.sqrt(N)) * act.d1(X @ W0p.T)) / n
        W1p = W0p + (eta_t * np.sqrt(N)) * np.sqrt(N) * G.T
    back = preset.to_ours(p=N, d=d, W=W1p)
    np.testing.assert_allclose(back["W"], r.W1, rtol=1e-12, atol=1e-13)


def test_bad_inputs_experiment():
    bad = [
        dict(n=0), dict(N=-1), dict(d=0), dict(eta0=-1.0), dict(activation="nope"),
        dict(teacher="nope"), dict(spectra=("W3",)), dict(dtype="int8"),
        dict(orientation="diag"), dict(ck_inputs="test"), dict(rng=-1), dict(rng="seed"),
        dict(lambdas=[-1.0]), dict(k_top=-1), dict(noise=-0.5), dict(preprocess="cubic"),
        dict(first_layer="he"), dict(second_layer="normal"), dict(n_threads=0), dict(alpha=np.nan),
        dict(degrees=(0,)),
    ]
    for b in bad:
        kw = {**SMALL, **b}
        with pytest.raises(InvalidParameterError):
            one_step(**kw)
    with pytest.raises(InvalidParameterError):
        two_step(**SMALL, batch="half")
    with pytest.raises(InvalidParameterError, match="eta0_2"):
        two_step(**SMALL, eta0_2=-1.0)


@pytest.mark.parametrize("strength", [0.0, 5.0])
def test_spike_power_iteration_and_fallback(strength):
    """Separated spike (power iteration) and pure noise (ARPACK fallback) vs dense SVD."""
    from spikewise.spectra.experiment import _spike

    rng = np.random.default_rng(11)
    d, N = 60, 90
    a = rng.standard_normal(N) / np.sqrt(N)
    W0 = rng.standard_normal((d, N)) / np.sqrt(d)
    u = rng.standard_normal(d)
    D = rng.standard_normal((d, N)) / np.sqrt(d) + strength * np.outer(u / np.linalg.norm(u), a)
    sp = _spike(W0 + D, W0, a)
    U, s, Vt = np.linalg.svd(D)
    assert sp.value == pytest.approx(s[0], rel=1e-9)
    assert abs(sp.left @ U[:, 0]) == pytest.approx(1.0, abs=1e-8)
    assert abs(sp.right @ Vt[0]) == pytest.approx(1.0, abs=1e-8)


def test_top_vectors_by_lanczos_equal_dense():
    kw = dict(n=400, d=120, N=200, activation="relu", teacher="he1", eta0=6.0, rng=9, k_top=2)
    dense = one_step(**kw)
    lanczos = one_step(**kw, spectra=())
    assert lanczos.spectra == {}
    for key in ("W1", "ck1"):
        np.testing.assert_allclose(lanczos.alignments[key], dense.alignments[key], atol=1e-8)


def test_spike_matches_rank_one_theory_with_shrinking_error():
    """Ba et al. (2022, Prop. 2): W1 - W0 ~ eta mu_1 (X^T y / n) a^T for a centred sigma.

    The top singular triple of the update approaches that rank-one matrix; the relative
    error of the singular value and the misalignments shrink as the sizes grow.
    """
    mu1 = get_activation("tanh").mu1
    errs, mis = [], []
    for n, d, N in ((400, 200, 300), (1600, 800, 1200)):
        r = one_step(n=n, d=d, N=N, activation="tanh", teacher="relu", eta0=1.0, rng=0,
                     spectra=(), k_top=0)
        c = r.X.T @ r.y / n
        pred = r.etas[0] * abs(mu1) * np.linalg.norm(c) * np.linalg.norm(r.a)
        errs.append(abs(r.spike.value - pred) / pred)
        mis.append(1 - (r.spike.left @ c / np.linalg.norm(c)) ** 2)
    assert errs[1] < errs[0] / 2 and errs[1] < 0.01
    assert mis[1] < mis[0] and mis[1] < 0.005


@pytest.mark.parametrize("orientation", ["feature", "sample"])
@pytest.mark.parametrize("shape", [(200, 60, 120), (120, 60, 200)])
def test_ck_spectra_both_orientations_and_shapes(orientation, shape):
    n, d, N = shape
    r = one_step(n=n, d=d, N=N, activation="softplus", eta0=2.0, rng=13,
                 orientation=orientation, k_top=1)
    act = get_activation("softplus")
    for key, W in (("ck0", r.W0), ("ck1", r.W1)):
        ref = _naive.eigvals(_naive.gram(act(r.X @ W), orientation))
        np.testing.assert_allclose(r.spectra[key].values, ref, rtol=1e-9,
                                   atol=1e-11 * ref.max())


def test_zero_learning_rate_leaves_weights_and_reports_no_spike():
    r = one_step(n=120, d=60, N=90, activation="tanh", teacher="tanh", eta0=0.0, rng=4)
    assert np.array_equal(r.W0, r.W1)
    assert r.spikes["step1"].value == 0.0
    assert np.all(np.isnan(r.spikes["step1"].left))
    assert np.all(np.isnan(r.alignments["spike1"]))
    np.testing.assert_array_equal(r.spectra["W1"].values, r.spectra["W0"].values)


def test_bit_generator_is_accepted_like_a_generator():
    a = one_step(n=60, d=30, N=40, activation="tanh", teacher="tanh", eta0=1.0,
                 rng=np.random.PCG64(7), spectra=("W1",), k_top=0)
    b = one_step(n=60, d=30, N=40, activation="tanh", teacher="tanh", eta0=1.0,
                 rng=np.random.default_rng(np.random.PCG64(7)), spectra=("W1",), k_top=0)
    np.testing.assert_array_equal(a.W1, b.W1)
