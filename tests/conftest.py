"""Shared fixtures: the seed contract of the statistical tests, and hypothesis profiles.

Seed contract
-------------
Every Monte-Carlo test takes the ``global_random_seed`` fixture and must pass for *any* seed:
its tolerance is a bound on an aggregate metric (Kolmogorov distance, relative error of an
outlier), calibrated over many seeds, never tuned to one draw. The environment variable
``SPIKEWISE_TEST_SEED`` chooses the seeds:

* unset: the fixed seed 42 (reproducible local runs);
* an int ``k``: that seed;
* ``"any"``: one seed drawn at random for the session (CI rotates the seed this way); it is
  printed in the report header, so a failure is reproduced with ``SPIKEWISE_TEST_SEED=<k>``;
* a range ``"a-b"`` (inclusive) or ``"all"`` (= ``0-19``): every such test runs once per seed.

The tests that take the fixture carry the ``statistical`` marker, so the seed sweep is::

    SPIKEWISE_TEST_SEED=0-19 python -m pytest -m statistical tests

(``.ci/seeds`` runs it; add ``-m "statistical or slow"`` style selections as needed).

Hypothesis
----------
The profile ``"deterministic"`` (the default, derandomized: the same examples in every run, so
the output, warnings included, does not change between runs) and ``"explore"`` (random
examples, more of them) are registered; choose with ``HYPOTHESIS_PROFILE=explore``.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, settings

_DEFAULT_SEED = 42
_ALL_SEEDS = range(20)

settings.register_profile(
    "deterministic", derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", derandomize=False, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


def _seeds_from_env() -> list[int]:
    text = os.environ.get("SPIKEWISE_TEST_SEED", "").strip().lower()
    if not text:
        return [_DEFAULT_SEED]
    if text == "any":
        return [random.Random().randrange(100)]
    if text == "all":
        return list(_ALL_SEEDS)
    try:
        if "-" in text:
            lo, hi = (int(part) for part in text.split("-", 1))
            if lo > hi or lo < 0:
                raise ValueError
            return list(range(lo, hi + 1))
        value = int(text)
        if value < 0:
            raise ValueError
        return [value]
    except ValueError:
        raise pytest.UsageError(
            "SPIKEWISE_TEST_SEED must be empty, a non-negative int, 'any', 'all' or a range "
            f"'a-b'. Got {text!r} instead."
        ) from None


_SEEDS = _seeds_from_env()


def pytest_report_header(config):
    shown = _SEEDS if len(_SEEDS) <= 3 else f"{_SEEDS[0]}..{_SEEDS[-1]}"
    return [f"spikewise: global_random_seed = {shown} (SPIKEWISE_TEST_SEED)"]


def pytest_generate_tests(metafunc):
    if "global_random_seed" in metafunc.fixturenames:
        metafunc.parametrize("global_random_seed", _SEEDS,
                             ids=[f"seed{s}" for s in _SEEDS])


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "global_random_seed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.statistical)
