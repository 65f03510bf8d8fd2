"""The validation helper: messages name the parameter, its owner, the rule and the value."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikewise._validation import (
    InvalidParameterError,
    check_array,
    check_option,
    check_rng,
    check_scalar,
)


def test_message_has_the_documented_form():
    with pytest.raises(InvalidParameterError) as info:
        check_scalar(-1.0, "ratio", "MarchenkoPastur", lower=0, lower_inclusive=False)
    assert str(info.value) == (
        "The 'ratio' parameter of MarchenkoPastur must be a finite float > 0. Got -1.0 instead."
    )


def test_error_is_both_value_and_type_error():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


@given(st.one_of(st.just(float("nan")), st.just(float("inf")), st.just(-float("inf")),
                 st.floats(max_value=0.0, allow_nan=False), st.text(), st.booleans(), st.none()))
def test_bad_positive_floats_raise(value):
    with pytest.raises(InvalidParameterError, match="'scale' parameter of Thing"):
        check_scalar(value, "scale", "Thing", lower=0, lower_inclusive=False)


@given(st.floats(min_value=1e-300, max_value=1e300))
def test_good_positive_floats_pass(value):
    assert check_scalar(value, "scale", "Thing", lower=0, lower_inclusive=False) == value


def test_int_kind():
    assert check_scalar(3, "n", "f", kind="int", lower=1) == 3
    assert check_scalar(np.int64(3), "n", "f", kind="int", lower=1) == 3
    assert check_scalar(4.0, "n", "f", kind="int", lower=1) == 4
    for bad in (0, 2.5, "3", True):
        with pytest.raises(InvalidParameterError, match="finite int >= 1"):
            check_scalar(bad, "n", "f", kind="int", lower=1)


def test_upper_bound_and_none():
    assert check_scalar(None, "x", "f", allow_none=True) is None
    with pytest.raises(InvalidParameterError, match="<= 1"):
        check_scalar(1.5, "x", "f", upper=1)
    with pytest.raises(InvalidParameterError, match="< 1"):
        check_scalar(1.0, "x", "f", upper=1, upper_inclusive=False)


def test_check_array_shape_ndim_finite():
    out = check_array([[1, 2], [3, 4]], "X", "f", ndim=2, shape=(None, 2))
    assert out.dtype == np.float64 and out.shape == (2, 2)
    with pytest.raises(InvalidParameterError, match="2-dimensional"):
        check_array([1.0, 2.0], "X", "f", ndim=2)
    with pytest.raises(InvalidParameterError, match=r"shape \(any, 3\)"):
        check_array(np.zeros((2, 2)), "X", "f", shape=(None, 3))
    with pytest.raises(InvalidParameterError, match="1 NaN or infinite"):
        check_array([1.0, np.nan], "y", "f")
    with pytest.raises(InvalidParameterError, match="numeric"):
        check_array(["a", "b"], "y", "f")
    with pytest.raises(InvalidParameterError, match="real"):
        check_array([1j], "y", "f")
    assert check_array([1j], "z", "f", allow_complex=True).dtype == np.complex128


def test_check_option_lists_choices():
    assert check_option("a", "kind", "f", ("a", "b")) == "a"
    with pytest.raises(InvalidParameterError, match=r"one of \{'a', 'b'\}. Got 'c'"):
        check_option("c", "kind", "f", ("a", "b"))
    with pytest.raises(InvalidParameterError):
        check_option([1], "kind", "f", ("a", "b"))


def test_check_rng_contract():
    gen = np.random.default_rng(0)
    assert check_rng(gen) is gen
    assert check_rng(1).random() == np.random.default_rng(1).random()
    with pytest.raises(InvalidParameterError, match="'rng' parameter"):
        check_rng("seed")
