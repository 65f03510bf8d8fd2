"""Numba kernels of spikewise.spectra against plain NumPy (tests/_naive.py)."""

from __future__ import annotations

import _naive
import numpy as np
import pytest
import scipy.linalg as sla

from spikewise.activations import get_activation, hermite_sum
from spikewise.spectra import _kernels as K
from spikewise.spectra._activation_apply import activate_inplace, backprop_inplace
from spikewise.spectra._linalg import eigh_top, gram_spectrum, thread_limits

PRESETS = ["relu", "relu_centred", "tanh", "erf", "sigmoid", "softplus", "gelu", "sin",
           "linear"] + [f"he{k}" for k in range(1, 9)]


@pytest.fixture(scope="module")
def grid():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(300) * 2.5, [-40.0, -5.0, 5.0, 40.0, 0.3, -0.7]])
    return x


@pytest.mark.parametrize("name", PRESETS)
def test_numba_activation_matches_numpy(name, grid):
    act = get_activation(name)
    assert act.kernel_code >= 0
    x = grid if not name.startswith("he") else grid[np.abs(grid) < 6]
    for deriv, ref in ((0, act(x)), (1, act.d1(x)), (2, act.d2(x))):
        got = K.act_scalar(act.kernel_code, act.kernel_params, x, deriv)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * (1 + np.abs(ref).max()))


def test_hermite_sum_and_affine_activation(grid):
    act = hermite_sum({0: 0.3, 1: 1.0, 2: 2**-0.5, 5: -0.1})
    for deriv, ref in ((0, act(grid)), (1, act.d1(grid)), (2, act.d2(grid))):
        got = K.act_scalar(act.kernel_code, act.kernel_params, grid, deriv)
        np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-9)
    tanh2 = get_activation("tanh").affine(2.0, -0.5)
    got = K.act_scalar(tanh2.kernel_code, tanh2.kernel_params, grid, 0)
    np.testing.assert_allclose(got, 2.0 * np.tanh(grid) - 0.5, rtol=1e-14, atol=1e-14)


def test_nan_propagates_through_kernels():
    for name in ("relu", "tanh", "gelu"):
        act = get_activation(name)
        out = K.act_scalar(act.kernel_code, act.kernel_params, np.array([np.nan]), 0)
        assert np.isnan(out[0])


@pytest.mark.parametrize("name", ["relu", "tanh", "he3"])
def test_activate_inplace_matches_numpy(name):
    rng = np.random.default_rng(1)
    H = rng.standard_normal((37, 23))
    act = get_activation(name)
    ref = act(H)
    np.testing.assert_allclose(activate_inplace(H.copy(), act), ref, rtol=1e-14, atol=1e-14)
    H32 = H.astype(np.float32)
    np.testing.assert_allclose(activate_inplace(H32, act), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "tanh", "softplus"])
def test_fused_backprop_matches_naive(name):
    rng = np.random.default_rng(2)
    n, N = 41, 29
    H = rng.standard_normal((n, N))
    y = rng.standard_normal(n)
    a = rng.standard_normal(N) / np.sqrt(N)
    act = get_activation(name)
    f_ref = act(H) @ a / np.sqrt(N)
    M_ref = ((y - f_ref)[:, None] * a[None, :]) * act.d1(H)
    Hc = H.copy()
    f = backprop_inplace(Hc, y, a, act)
    np.testing.assert_allclose(f, f_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(Hc, M_ref, rtol=1e-13, atol=1e-15)
    # the same with precomputed features, and through the NumPy fallback (custom activation)
    Hc = H.copy()
    f2 = backprop_inplace(Hc, y, a, act, F=act(H))
    np.testing.assert_allclose(f2, f_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(Hc, M_ref, rtol=1e-13, atol=1e-15)
    from spikewise.activations import Activation

    custom = Activation.from_callable(act.__call__, d1=act.d1, d2=act.d2, name="custom")
    assert custom.kernel_code == -1
    Hc = H.copy()
    f3 = backprop_inplace(Hc, y, a, custom)
    np.testing.assert_allclose(f3, f_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(Hc, M_ref, rtol=1e-13, atol=1e-15)


def test_fused_kernel_thread_independent():
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:  # 1 against 1 thread would compare a run to itself
        pytest.skip("needs NUMBA_NUM_THREADS >= 2 to compare 1 with 2 threads")
    rng = np.random.default_rng(3)
    H = rng.standard_normal((64, 50))
    y, a = rng.standard_normal(64), rng.standard_normal(50)
    act = get_activation("tanh")
    outs = []
    for t in (1, 2):
        with thread_limits(t):
            Hc = H.copy()
            f = backprop_inplace(Hc, y, a, act)
            outs.append((Hc, f))
    assert np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])


def test_histogram_matches_numpy():
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.standard_normal(5000), np.linspace(-1, 1, 11)])
    for bins, lo, hi in ((10, -1.0, 1.0), (37, v.min(), v.max()), (7, -0.3, 2.2)):
        counts = K._histogram_uniform(v, lo, hi, bins, np.zeros(bins, dtype=np.int64))
        ref, _ = np.histogram(v, bins=bins, range=(lo, hi))
        np.testing.assert_array_equal(counts, ref)


def test_empirical_stieltjes_matches_naive():
    rng = np.random.default_rng(5)
    v = rng.random(200) * 4
    z = np.array([-1.0 + 0.1j, 2.0 + 1e-3j, 5.0 + 0.0j, 1.5 + 2j])
    got = K._stieltjes_empirical(v, z, np.empty_like(z))
    np.testing.assert_allclose(got, _naive.stieltjes(v, z), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eigh_top_matches_lapack(dtype):
    rng = np.random.default_rng(6)
    A = rng.standard_normal((120, 80))
    A[:, 0] += 3 * rng.standard_normal(120)  # an outlier
    S = (A.T @ A / 120).astype(dtype)
    vals, vecs = eigh_top(S, 4)
    w, V = np.linalg.eigh(S.astype(np.float64))
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(vals, w, rtol=tol, atol=tol * w.max())
    for j in range(4):
        ov = abs(vecs[:, j].astype(np.float64) @ V[:, -1 - j])
        assert ov == pytest.approx(1.0, abs=10 * tol)


@pytest.mark.parametrize("shape", [(50, 90), (90, 50)])
@pytest.mark.parametrize("side", ["cols", "rows"])
def test_gram_spectrum_both_sides(shape, side):
    rng = np.random.default_rng(7)
    A = rng.standard_normal(shape)
    vals, vecs = gram_spectrum(A, side=side, scale=0.5, k=3)
    S = 0.5 * (A.T @ A if side == "cols" else A @ A.T)
    w, V = np.linalg.eigh(S)
    np.testing.assert_allclose(vals, w, rtol=1e-10, atol=1e-10 * w.max())
    assert vals.shape == (S.shape[0],)
    for j in range(3):
        assert abs(vecs[:, j] @ V[:, -1 - j]) == pytest.approx(1.0, abs=1e-10)
    sv = np.sqrt(np.clip(gram_spectrum(A, side="rows" if shape[0] < shape[1] else "cols")[0],
                         0, None))
    np.testing.assert_allclose(sv, _naive.singular_values(A), rtol=1e-12)
    assert sla.svdvals(A).size == sv.size


@pytest.mark.parametrize("shape", [(300, 70), (70, 300)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activated_gram_blocked(shape, dtype, monkeypatch):
    """Blocked sigma(H) Gram by syrk (upper triangle) and the output, F never formed."""
    from spikewise.spectra import _activation_apply as AA

    monkeypatch.setattr(AA, "_GRAM_BLOCK_BYTES", 64 * 8 * 70)  # force several blocks
    rng = np.random.default_rng(9)
    H = rng.standard_normal(shape).astype(dtype)
    a = rng.standard_normal(shape[1])
    act = get_activation("tanh")
    G, f, side = AA.activated_gram(H, act, a, scale=0.5)
    F = np.tanh(H.astype(np.float64))
    ref = 0.5 * (F.T @ F if side == "cols" else F @ F.T)
    assert side == ("cols" if shape[1] <= shape[0] else "rows")
    tol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(np.triu(G), np.triu(ref), rtol=tol, atol=tol * ref.max())
    np.testing.assert_allclose(f, F @ a / np.sqrt(shape[1]), rtol=tol, atol=tol)
    vals, _ = eigh_top(G, 0, overwrite=False)  # reads the upper triangle only
    np.testing.assert_allclose(vals, np.linalg.eigvalsh(ref), rtol=10 * tol,
                               atol=10 * tol * ref.max())
    y = rng.standard_normal(shape[0])
    Hc = H.astype(np.float64)
    AA.backprop_given_output(Hc, y, a, f, act)
    M = act.d1(H.astype(np.float64)) * (y - f)[:, None] * a[None, :]
    np.testing.assert_allclose(Hc, M, rtol=1e-12, atol=1e-14)


def _table_activation(code):
    """An activation of each code of the table (a Hermite sum with 4 terms for code 8)."""
    from spikewise.activations import _BASES, _HERMITE_CODE

    if code == _HERMITE_CODE:
        return hermite_sum({0: 0.2, 1: -0.7, 3: 0.4, 4: 0.1})
    (base,) = [b for b in _BASES if b.code == code]
    return get_activation(base.name).affine(1.3, -0.2)


def test_every_kernel_code_same_in_numpy_and_numba(grid):
    """Every code of ``KERNEL_CODES`` (the activation table) has the same values and first and
    second derivatives in NumPy and in the Numba dispatch; a code the dispatch does not know
    gives NaN."""
    from spikewise.activations import KERNEL_CODES

    codes = sorted(c for c in KERNEL_CODES if c >= 0)
    assert codes == list(range(len(codes)))
    x = grid[np.abs(grid) < 8]
    for code in codes:
        act = _table_activation(code)
        assert act.kernel_code == code
        for deriv, ref in ((0, act(x)), (1, act.d1(x)), (2, act.d2(x))):
            got = K.act_scalar(code, act.kernel_params, x, deriv)
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * (1 + np.abs(ref).max()),
                                       err_msg=f"code {code} derivative {deriv}")
    unknown = K.act_scalar(max(codes) + 1, np.array([1.0, 0.0]), x[:3], 0)
    assert np.all(np.isnan(unknown))


def test_every_table_row_has_a_numba_path():
    """The dispatch is generated from the table: every code of ``KERNEL_CODES`` has scalar
    formulas there, and the generated dispatch calls them; nothing else lists the codes."""
    from spikewise.activations import _BASES, _HERMITE_CODE, _KERNEL_SCALARS, KERNEL_CODES

    codes = sorted(c for c in KERNEL_CODES if c >= 0)
    assert sorted(_KERNEL_SCALARS) == codes == sorted([b.code for b in _BASES] + [_HERMITE_CODE])
    for which in ("value", "d1", "d2"):
        src = K._dispatch_source(codes, which, "f")
        for code in codes:
            assert f"if code == {code}:\n        return _formula_{which}_{code}(x, params)" in src
            assert getattr(K, f"_formula_{which}_{code}") is getattr(_KERNEL_SCALARS[code], which)


def test_cache_key_follows_the_table(monkeypatch):
    """Every cached kernel carries the table fingerprint in its cache key, and the fingerprint
    changes with any scalar formula (so an edited formula is not served from a stale cache)."""
    from numba.core.dispatcher import Dispatcher

    from spikewise.activations import _KERNEL_SCALARS, _Scalar

    kernels = [v for v in vars(K).values() if isinstance(v, Dispatcher)]
    assert {"_base", "_base_d1", "_base_d2", "_act", "_fused_backprop_inplace"} <= {
        k.py_func.__name__ for k in kernels}
    assert all(isinstance(k._cache, K._TableKeyedCache) for k in kernels)
    K.act_scalar(0, np.array([1.0, 0.0]), np.zeros(1))
    sig = K._act_array.signatures[0]
    key = K._act_array._cache._index_key(sig, K._act_array.targetctx.codegen())
    assert key[-1] == K.TABLE_FINGERPRINT == K._table_fingerprint()
    edited = dict(_KERNEL_SCALARS)
    tanh = edited[2]
    edited[2] = _Scalar(tanh.value, tanh.d1, tanh.value)  # a wrong second derivative
    monkeypatch.setattr(K, "_KERNEL_SCALARS", edited)
    assert K._table_fingerprint() != K.TABLE_FINGERPRINT
