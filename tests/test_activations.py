"""Activations: values, derivatives, Hermite coefficients (closed forms, mpmath), errors."""

import functools
import math
import pickle

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import hermite_e as He
from scipy.special import erf, expit, ndtr

from spikewise._validation import InvalidParameterError
from spikewise.activations import (
    ACTIVATION_NAMES,
    Activation,
    get_activation,
    hermite_polynomials,
    hermite_sum,
)

K = 8
PHI0 = 1.0 / math.sqrt(2.0 * math.pi)
FACT = np.array([math.factorial(k) for k in range(K + 1)], dtype=float)


def _he_at_zero(m: int) -> float:
    """He_m(0) = 0 for odd m, (-1)^{m/2} (m-1)!! for even m."""
    if m % 2:
        return 0.0
    return (-1.0) ** (m // 2) * float(np.prod(np.arange(m - 1, 0, -2))) if m else 1.0


def relu_closed_form(k_max):
    # E[relu(Z) He_k(Z)] = phi(0) He_{k-2}(0) for k >= 2 (Gaussian integration by parts)
    mu = np.zeros(k_max + 1)
    mu[0] = PHI0
    mu[1] = 0.5
    for k in range(2, k_max + 1):
        mu[k] = PHI0 * _he_at_zero(k - 2) / math.factorial(k)
    return mu


def erf_closed_form(k_max):
    # erf(z) = 2 Phi(sqrt2 z) - 1; for odd k, E[erf He_k] = E[erf^{(k)}]
    #   = 2 * 2^{k/2} (k-2)!! (-1/3)^{(k-1)/2} / sqrt(6 pi)
    mu = np.zeros(k_max + 1)
    for k in range(1, k_max + 1, 2):
        dfact = float(np.prod(np.arange(k - 2, 0, -2))) if k > 2 else 1.0
        val = 2.0 * 2.0 ** (k / 2) * dfact * (-1.0 / 3.0) ** ((k - 1) // 2)
        mu[k] = val / math.sqrt(6.0 * math.pi) / math.factorial(k)
    return mu


def sin_closed_form(k_max):
    # E[sin^{(k)}(Z)]: E cos Z = e^{-1/2}, E sin Z = 0
    mu = np.zeros(k_max + 1)
    for k in range(1, k_max + 1, 2):
        mu[k] = (-1.0) ** ((k - 1) // 2) * math.exp(-0.5) / math.factorial(k)
    return mu


def _unit(j, k_max):
    """Coefficients of He_j: the unit vector e_j."""
    return np.eye(1, k_max + 1, j).ravel()


# ------------------------------------------------------------------------------------------
# closed forms to 1e-12
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, closed",
    [
        ("relu", relu_closed_form),
        ("erf", erf_closed_form),
        ("sin", sin_closed_form),
        ("linear", lambda k: np.eye(1, k + 1, 1).ravel()),
    ]
    + [(f"he{j}", functools.partial(_unit, j)) for j in range(1, 9)],
)
def test_hermite_against_closed_forms(name, closed):
    mu = get_activation(name).hermite(12)
    np.testing.assert_allclose(mu, closed(12), rtol=1e-12, atol=1e-14)


def test_relu_centred_and_alias():
    mu = get_activation("relu_centred").hermite(K)
    ref = relu_closed_form(K)
    ref[0] = 0.0
    np.testing.assert_allclose(mu, ref, rtol=1e-12, atol=1e-15)
    assert get_activation("centred_relu") is get_activation("relu_centred")
    x = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(get_activation("centred_relu")(x), np.maximum(x, 0) - PHI0)


def test_second_moments_closed_forms():
    relu = get_activation("relu")
    assert relu.second_moment == pytest.approx(0.5, rel=1e-13)
    assert relu.mu_star2 == pytest.approx(0.5 - 1 / (2 * math.pi) - 0.25, rel=1e-12)
    assert get_activation("erf").second_moment == pytest.approx(
        2 / math.pi * math.asin(2 / 3), rel=1e-12
    )
    assert get_activation("sin").second_moment == pytest.approx((1 - math.exp(-2)) / 2, rel=1e-12)
    assert get_activation("linear").mu_star2 == 0.0
    assert get_activation("he3").second_moment == 6.0
    centred = get_activation("relu_centred")
    assert centred.second_moment == pytest.approx(0.5 - 1 / (2 * math.pi), rel=1e-12)


# ------------------------------------------------------------------------------------------
# mpmath at 30 digits to 1e-12
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softplus", "gelu", "sin"])
def test_hermite_against_mpmath(name):
    act = get_activation(name)
    quad = act.hermite(K)
    ref = act.hermite(K, method="mpmath", dps=30)
    np.testing.assert_allclose(quad, ref, rtol=1e-12, atol=1e-15)


def test_mpmath_path_is_independent_for_closed_forms():
    # the mpmath path integrates (no closed forms) and agrees with them
    np.testing.assert_allclose(
        get_activation("relu").hermite(6, method="mpmath"), relu_closed_form(6), atol=1e-15
    )
    np.testing.assert_allclose(
        get_activation("he3").hermite(5, method="mpmath"), np.eye(1, 6, 3).ravel(), atol=1e-15
    )


def test_second_moment_tanh_against_mpmath():
    with mpmath.workdps(30):
        ref = mpmath.quad(
            lambda z: mpmath.tanh(z) ** 2 * mpmath.exp(-z * z / 2), [-mpmath.inf, 0, mpmath.inf]
        ) / mpmath.sqrt(2 * mpmath.pi)
    assert get_activation("tanh").second_moment == pytest.approx(float(ref), rel=1e-12)


def test_parseval_for_sigmoid():
    # E sigma^2 = sum_k k! mu_k^2; sigmoid's coefficients decay geometrically
    act = get_activation("sigmoid")
    mu = act.hermite(40)
    fact = np.array([math.factorial(k) for k in range(41)], dtype=float)
    assert np.sum(fact * mu**2) == pytest.approx(act.second_moment, rel=1e-10)


# ------------------------------------------------------------------------------------------
# values, derivatives, Numba description
# ------------------------------------------------------------------------------------------
def _numpy_base(code, params, x):
    """Independent NumPy transcription of the kernel contract."""
    if code == 0:
        return x
    if code == 1:
        return np.maximum(x, 0)
    if code == 2:
        return np.tanh(x)
    if code == 3:
        return erf(x)
    if code == 4:
        return expit(x)
    if code == 5:
        return np.log1p(np.exp(x))
    if code == 6:
        return x * ndtr(x)
    if code == 7:
        return np.sin(x)
    if code == 8:
        return He.hermeval(x, params[2:])
    raise AssertionError(code)


X = np.linspace(-3.1, 3.3, 41)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_kernel_description_matches_values(name):
    act = get_activation(name)
    params = act.kernel_params
    assert params.dtype == np.float64 and not params.flags.writeable
    expected = params[0] * _numpy_base(act.kernel_code, params, X) + params[1]
    np.testing.assert_allclose(act(X), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_derivatives_against_finite_differences(name):
    act = get_activation(name)
    x = X[np.abs(X) > 0.05]  # away from relu's kink
    h = 1e-6
    fd1 = (act(x + h) - act(x - h)) / (2 * h)
    fd2 = (act.d1(x + h) - act.d1(x - h)) / (2 * h)
    scale = 1 + np.abs(act(x))
    np.testing.assert_allclose(act.d1(x), fd1, atol=1e-7 * scale.max())
    np.testing.assert_allclose(act.d2(x), fd2, atol=1e-6 * (1 + np.abs(act.d1(x)).max()))


def test_named_formulas_hold():
    x = X
    np.testing.assert_allclose(get_activation("gelu")(x), x * ndtr(x))
    np.testing.assert_allclose(get_activation("softplus")(x), np.log1p(np.exp(x)))
    np.testing.assert_allclose(get_activation("sigmoid")(x), 1 / (1 + np.exp(-x)))
    assert get_activation("softplus")(800.0) == 800.0  # no overflow
    assert np.isnan(get_activation("relu")(np.nan))
    assert np.isnan(get_activation("relu").d1(np.nan))


def test_presets_are_shared_and_cached_results_are_copies():
    a = get_activation("tanh")
    assert get_activation("TANH") is a
    assert get_activation(a) is a
    mu = a.hermite(4)
    mu[:] = 99.0
    assert a.hermite(4)[1] != 99.0
    assert a.hermite(3).shape == (4,)
    assert a.hermite(20).shape == (21,)
    np.testing.assert_array_equal(a.hermite(20)[:5], a.hermite(4))


def test_properties():
    act = get_activation("tanh")
    mu = act.hermite(2)
    assert (act.mu0, act.mu1, act.mu2) == (mu[0], mu[1], mu[2])
    assert act.mu0 == 0.0 or abs(act.mu0) < 1e-16
    assert act.mu_star2 == pytest.approx(act.second_moment - act.mu1**2, rel=1e-14)


def test_hermite_polynomials_recurrence():
    x = np.linspace(-2, 2, 7)
    H = hermite_polynomials(x, 6)
    for k in range(7):
        np.testing.assert_allclose(H[k], He.hermeval(x, np.eye(7)[k]), rtol=1e-13, atol=1e-12)


# ------------------------------------------------------------------------------------------
# centring and affine maps
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["relu", "softplus", "sigmoid", "gelu", "he2"])
def test_centred(name):
    act = get_activation(name)
    c = act.centred()
    assert abs(c.mu0) < 1e-15
    np.testing.assert_allclose(c.hermite(K)[1:], act.hermite(K)[1:], rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(c(X), act(X) - act.mu0, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(c.d1(X), act.d1(X))
    assert c.second_moment == pytest.approx(act.second_moment - act.mu0**2, rel=1e-12)
    assert c.kernel_code == act.kernel_code
    p = c.kernel_params
    np.testing.assert_allclose(
        p[0] * _numpy_base(c.kernel_code, p, X) + p[1], c(X), rtol=1e-13, atol=1e-13
    )
    # the mpmath path of the centred function also checks out
    np.testing.assert_allclose(c.hermite(3, method="mpmath"), c.hermite(3), atol=1e-14)


def test_centred_decides_by_identity_not_by_name():
    """A user function named "relu" is centred by its own mean, not swapped for a preset."""
    fake = Activation.from_callable(lambda x: np.maximum(x - 0.5, 0.0), kinks=(0.5,),
                                    name="relu")
    c = fake.centred()
    assert c is not get_activation("relu_centred")
    assert abs(c.mu0) < 1e-14
    np.testing.assert_allclose(c(X), fake(X) - fake.mu0, rtol=1e-14, atol=1e-14)
    # E max(Z - 1/2, 0) = phi(1/2) - P(Z > 1/2) / 2
    mu0 = np.exp(-0.125) / np.sqrt(2 * np.pi) - 0.5 * ndtr(-0.5)
    assert fake.mu0 == pytest.approx(mu0, rel=1e-12)
    assert get_activation("relu").centred() is get_activation("relu_centred")


def test_affine():
    act = get_activation("tanh").affine(2.0, 0.5)
    np.testing.assert_allclose(act(X), 2 * np.tanh(X) + 0.5)
    np.testing.assert_allclose(act.d2(X), 2 * get_activation("tanh").d2(X))
    mu = get_activation("tanh").hermite(K) * 2
    mu[0] += 0.5
    np.testing.assert_allclose(act.hermite(K), mu)
    assert act.second_moment == pytest.approx(
        4 * get_activation("tanh").second_moment + 0.25, rel=1e-13
    )


# ------------------------------------------------------------------------------------------
# Hermite sums
# ------------------------------------------------------------------------------------------
def test_hermite_sum_mapping_and_sequence():
    t1 = hermite_sum({1: 1.0, 2: 2**-0.5})
    t2 = hermite_sum([0.0, 1.0, 2**-0.5])
    assert t1 == t2
    np.testing.assert_array_equal(t1.hermite(4), [0.0, 1.0, 2**-0.5, 0.0, 0.0])
    np.testing.assert_allclose(t1(X), X + (X**2 - 1) / math.sqrt(2))
    assert t1.second_moment == pytest.approx(2.0, rel=1e-15)
    assert t1.kernel_code == 8
    np.testing.assert_array_equal(t1.kernel_params, [1.0, 0.0, 0.0, 1.0, 2**-0.5])


def test_hermite_sum_derivatives_and_mpmath():
    c = [0.3, -1.0, 0.5, 0.25, 0.0, 0.1]
    act = hermite_sum(c)
    np.testing.assert_allclose(act.d1(X), He.hermeval(X, He.hermeder(c)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(act.d2(X), He.hermeval(X, He.hermeder(c, 2)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(act.hermite(7, method="mpmath"), c + [0, 0], atol=1e-14)


# ------------------------------------------------------------------------------------------
# from_callable
# ------------------------------------------------------------------------------------------
def test_from_callable_with_derivatives():
    act = Activation.from_callable(
        np.tanh, d1=lambda x: 1 / np.cosh(x) ** 2, name="my_tanh", mp_func=mpmath.tanh
    )
    assert act.kernel_code == -1
    np.testing.assert_allclose(act.hermite(K), get_activation("tanh").hermite(K), atol=1e-16)
    np.testing.assert_allclose(act.d1(X), 1 / np.cosh(X) ** 2)


def test_from_callable_finite_differences_are_accurate():
    act = Activation.from_callable(np.tanh, name="fd_tanh")
    ref = get_activation("tanh")
    np.testing.assert_allclose(act.d1(X), ref.d1(X), rtol=0, atol=2e-11)
    np.testing.assert_allclose(act.d2(X), ref.d2(X), rtol=0, atol=2e-9)


def test_from_callable_with_kink():
    # |x| = 2 relu(x) - x: exact coefficients from relu's closed form
    act = Activation.from_callable(np.abs, d1=np.sign, kinks=[0.0], name="abs")
    ref = 2 * relu_closed_form(10)
    ref[1] -= 1.0
    np.testing.assert_allclose(act.hermite(10), ref, rtol=1e-12, atol=1e-15)
    # mpmath path without mp_func: evaluates in double precision, split at the kink
    np.testing.assert_allclose(act.hermite(4, method="mpmath"), ref[:5], atol=1e-14)
    assert act.second_moment == pytest.approx(1.0, rel=1e-13)


def test_activation_pickles():
    for name in ("relu_centred", "he3", "gelu"):
        act = get_activation(name)
        back = pickle.loads(pickle.dumps(act))
        assert back == act
        np.testing.assert_array_equal(back(X), act(X))


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------
def test_unknown_name_lists_options():
    with pytest.raises(InvalidParameterError) as info:
        get_activation("rleu")
    msg = str(info.value)
    assert "'rleu'" in msg and "'relu'" in msg and "'he8'" in msg and "'centred_relu'" in msg


bad_scalars = st.one_of(
    st.just(float("nan")),
    st.just(float("inf")),
    st.just(-float("inf")),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.booleans(),
)


@settings(max_examples=40, deadline=None)
@given(st.one_of(bad_scalars, st.integers(max_value=-1), st.integers(min_value=101)))
def test_bad_k_max(value):
    with pytest.raises(InvalidParameterError, match="'k_max'"):
        get_activation("tanh").hermite(value)


@settings(max_examples=20, deadline=None)
@given(st.one_of(st.text(max_size=5), st.integers(), st.none()))
def test_bad_method(value):
    with pytest.raises(InvalidParameterError, match="'method'"):
        get_activation("relu").hermite(3, method=value)


@settings(max_examples=20, deadline=None)
@given(st.one_of(bad_scalars, st.integers(max_value=14), st.integers(min_value=1001)))
def test_bad_dps(value):
    with pytest.raises(InvalidParameterError, match="'dps'"):
        get_activation("relu").hermite(3, method="mpmath", dps=value)


@settings(max_examples=30, deadline=None)
@given(bad_scalars)
def test_bad_hermite_sum_coefficients(value):
    with pytest.raises(InvalidParameterError, match="'coefficients'"):
        hermite_sum([1.0, value])
    with pytest.raises(InvalidParameterError, match="'coefficients'"):
        hermite_sum({2: value})


@pytest.mark.parametrize("value", ["abc", 3.0, None, [], {}, {-1: 1.0}, {1.5: 1.0}])
def test_bad_hermite_sum_shapes(value):
    with pytest.raises(InvalidParameterError, match="'coefficients"):
        hermite_sum(value)


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.integers(), st.floats(), st.none(), st.lists(st.text(), max_size=2)))
def test_bad_spec_types(value):
    with pytest.raises(InvalidParameterError, match="'spec'"):
        get_activation(value)


@settings(max_examples=20, deadline=None)
@given(bad_scalars)
def test_bad_affine(value):
    with pytest.raises(InvalidParameterError, match="'scale'"):
        get_activation("tanh").affine(value)
    with pytest.raises(InvalidParameterError, match="'shift'"):
        get_activation("tanh").affine(1.0, value)


def test_bad_callables():
    with pytest.raises(InvalidParameterError, match="'func'"):
        Activation.from_callable(3.0)
    with pytest.raises(InvalidParameterError, match="'d1'"):
        Activation.from_callable(np.tanh, d1="cos")
    with pytest.raises(InvalidParameterError, match="vectorized"):
        Activation.from_callable(lambda x: float(np.sum(x)))
    with pytest.raises(InvalidParameterError, match="'func'"):
        Activation.from_callable(math.tanh)  # not vectorized: raises on arrays
    with pytest.raises(InvalidParameterError, match="'kinks'"):
        Activation.from_callable(np.tanh, kinks=[float("nan")])
    with pytest.raises(InvalidParameterError, match="'name'"):
        Activation.from_callable(np.tanh, name="")
    with pytest.raises(InvalidParameterError, match="'x'"):
        get_activation("tanh")("not a number")
    bad = Activation.from_callable(lambda x: np.exp(x * x), name="explodes")
    with pytest.raises(InvalidParameterError, match="non-finite"):
        bad.hermite(2)
