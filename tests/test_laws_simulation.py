"""Agreement with simulation: Kolmogorov distances and edges, tolerances shrinking with size.

Every default-size test takes ``global_random_seed`` (tests/conftest.py) and holds for seeds
0-19 (``SPIKEWISE_TEST_SEED=0-19``). Calibration (honest, from runs at p = 100..800): the
mean Kolmogorov distance between the eigenvalues of one p x p matrix and the limiting cdf
behaves like ``c log(p) / p`` with c between 0.4 and 0.6 for every model here (rigidity of
eigenvalues, much faster than the i.i.d. rate p^{-1/2}); the bound used is
``1.2 log(p) / p``. Extreme
eigenvalues of each separated bulk deviate from the edges by Tracy–Widom-sized amounts,
observed ``|mean deviation| <= 1.4 * width * p^(-2/3)``; the bound is 3 times that scale.
"""

import warnings

import numpy as np
import pytest

from spikewise.activations import get_activation
from spikewise.solvers.conjugate_kernel import conjugate_kernel_law
from spikewise.solvers.generalized_mp import GeneralizedMarchenkoPastur
from spikewise.solvers.marchenko_pastur import MarchenkoPastur

KS_C = 1.2
EDGE_C = 3.0


def ks_distance(eigs, law):
    """sup |F_n - F| for a law with atoms (both sides of every jump are compared)."""
    e = np.sort(np.asarray(eigs, dtype=np.float64))
    loc, mass = law.atoms
    tol = 1e-9 * max(1.0, float(np.max(np.abs(e))))
    for t in loc:  # round-off zeros of a rank-deficient Gram are exact zeros
        e[np.abs(e - t) <= tol] = t
    c = law.cdf(e)
    c_left = c.copy()
    for t, w in zip(loc, mass, strict=True):
        c_left[e == t] -= w
    k = e.size
    i = np.arange(1, k + 1)
    return float(max(np.max(i / k - c), np.max(c_left - (i - 1) / k)))


def _gmp_eigs(ratio, atoms, weights, p, rng):
    n = int(round(p / ratio))
    t = np.repeat(atoms, np.round(np.asarray(weights) * p).astype(int))
    y = rng.standard_normal((n, t.size)) * np.sqrt(t)
    return np.linalg.eigvalsh(y.T @ y / n)


def _ck_eigs(act, d, psi, phi, orientation, rng):
    n, n_feat = int(psi * d), int(phi * d)
    x = rng.standard_normal((n, d))
    w = rng.standard_normal((d, n_feat)) / np.sqrt(d)
    f = act(x @ w)
    if orientation == "feature":
        return np.linalg.eigvalsh(f.T @ f / n), n_feat
    return np.linalg.eigvalsh(f @ f.T / n_feat), n


GMP_CASES = {
    "mp_0.25": (0.25, [1.0], [1.0]),
    "mp_1": (1.0, [1.0], [1.0]),
    "mp_4": (4.0, [1.0], [1.0]),
    "two_atoms": (0.5, [1.0, 3.0], [0.5, 0.5]),
    "separated": (0.1, [1.0, 10.0], [0.5, 0.5]),
}


def _check_gmp(name, p, reps, seed):
    ratio, atoms, weights = GMP_CASES[name]
    if len(atoms) == 1:
        law = MarchenkoPastur(ratio=ratio, scale=atoms[0])
    else:
        law = GeneralizedMarchenkoPastur(ratio=ratio, population=atoms, weights=weights)
    rng = np.random.default_rng(seed)
    ks = np.mean([ks_distance(_gmp_eigs(ratio, atoms, weights, p, rng), law)
                  for _ in range(reps)])
    assert ks < KS_C * np.log(p) / p, (name, p, ks)
    return ks


@pytest.mark.parametrize("name", list(GMP_CASES))
def test_ks_gmp(name, global_random_seed):
    _check_gmp(name, 200, 3, [global_random_seed, 1])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(GMP_CASES))
def test_ks_gmp_large(name):
    _check_gmp(name, 1000, 2, 2)


def _check_ck(name, orientation, d, reps, seed, psi=2.0, phi=1.0):
    act = get_activation(name)
    law = conjugate_kernel_law(act, psi=psi, phi=phi, orientation=orientation)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        eigs, size = _ck_eigs(act, d, psi, phi, orientation, rng)
        out.append(ks_distance(eigs, law))
    ks = float(np.mean(out))
    # size: the number of nonzero eigenvalues sets the rate
    n_nonzero = min(int(psi * d), int(phi * d))
    assert ks < KS_C * np.log(n_nonzero) / n_nonzero, (name, orientation, d, ks)
    return ks


@pytest.mark.parametrize("orientation", ["feature", "sample"])
@pytest.mark.parametrize("name", ["tanh", "relu_centred"])
def test_ks_conjugate_kernel(name, orientation, global_random_seed):
    _check_ck(name, orientation, 200, 3, [global_random_seed, 3])


@pytest.mark.parametrize("name", ["tanh", "relu_centred"])
def test_ks_conjugate_kernel_phi_gt_psi(name, global_random_seed):
    _check_ck(name, "feature", 200, 2, [global_random_seed, 4], psi=1.0, phi=2.0)


@pytest.mark.slow
@pytest.mark.parametrize("orientation", ["feature", "sample"])
@pytest.mark.parametrize("name", ["tanh", "relu_centred"])
def test_ks_conjugate_kernel_large(name, orientation):
    _check_ck(name, orientation, 800, 2, 5)


def test_ks_has_power():
    # the same bound rejects a law that is slightly off (ratio 0.3 instead of 0.25), and a
    # CK law with the two ratios swapped
    rng = np.random.default_rng(6)
    p = 400
    eigs = _gmp_eigs(0.25, [1.0], [1.0], p, rng)
    assert ks_distance(eigs, MarchenkoPastur(ratio=0.25)) < KS_C * np.log(p) / p
    assert ks_distance(eigs, MarchenkoPastur(ratio=0.3)) > KS_C * np.log(p) / p
    act = get_activation("tanh")
    eigs, _ = _ck_eigs(act, 200, 2.0, 1.0, "feature", rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrong = conjugate_kernel_law(act, psi=1.0, phi=2.0)  # psi and phi swapped
    assert ks_distance(eigs, wrong) > KS_C * np.log(200) / 200


def _check_edges(ratio, atoms, p, reps, seed):
    law = GeneralizedMarchenkoPastur(ratio=ratio, population=atoms)
    k = len(atoms)
    assert len(law.support) == k
    rng = np.random.default_rng(seed)
    devs = []
    for _ in range(reps):
        e = _gmp_eigs(ratio, atoms, np.full(k, 1.0 / k), p, rng)
        # exact separation: bulk j holds exactly p/k eigenvalues
        ext = np.concatenate([[b[0], b[-1]] for b in np.split(e, k)])
        devs.append(ext - law.edges)
    dev = np.mean(devs, axis=0)
    width = np.repeat([hi - lo for lo, hi in law.support], 2)
    assert np.all(np.abs(dev) < EDGE_C * width * p ** (-2 / 3)), dev / (width * p ** (-2 / 3))


def test_edges_of_separated_bulks(global_random_seed):
    _check_edges(0.1, [1.0, 10.0], 240, 4, [global_random_seed, 7])
    _check_edges(0.05, [1.0, 4.0, 10.0], 240, 3, [global_random_seed, 8])


@pytest.mark.slow
def test_edges_of_separated_bulks_large():
    _check_edges(0.1, [1.0, 10.0], 960, 3, 9)
    _check_edges(0.05, [1.0, 4.0, 10.0], 960, 3, 10)
