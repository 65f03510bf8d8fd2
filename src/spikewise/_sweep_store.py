"""Where a sweep's results go: a zarr store written point by point, or memory.

Layout of a store (an xarray Dataset in zarr): one dimension per grid parameter, in the
grid's order, then ``seed``; one data variable per output of the swept function, with the
output's own axes after the sweep axes (named ``<output>_dim<k>``); a boolean ``done``
over the sweep axes. The driver is the only writer. A finished point is written into its
region of each variable, then its ``done`` flag. Chunks hold blocks of up to 1024 points
(at most 64 KiB of one output), so that a sweep of 10^4 points is a few files per
variable. Writing a point rewrites its chunk, which zarr's local store does atomically (a
temporary file renamed into place; zarr-python >= 3.1.3): an interrupted write leaves the
chunk as it was, the point is not done and is recomputed, and no other point is damaged.
The attribute ``spikewise_sweep`` holds the sweep's identity (function, grid, seeds, base
seed, fixed parameters) as JSON and ``spikewise_outputs`` the output schema; reopening a
store compares the identity and refuses a mismatch.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from spikewise._validation import InvalidParameterError

__all__ = ["SPEC_ATTR", "OUTPUTS_ATTR", "ZarrWriter", "MemoryWriter", "output_schema",
           "point_chunks"]

SPEC_ATTR = "spikewise_sweep"
OUTPUTS_ATTR = "spikewise_outputs"
_FLOAT_FILL = {"f": np.nan, "c": np.nan + 0j}


def output_schema(result: dict) -> dict:
    """``{name: {"shape": [...], "dtype": str}}`` of one point's (validated) outputs."""
    return {name: {"shape": list(value.shape), "dtype": value.dtype.str}
            for name, value in result.items()}


def point_chunks(shape: tuple, point_bytes: int, *, target: int = 1 << 16,
                 most: int = 1024) -> tuple:
    """Chunk sizes over the sweep axes: blocks of up to ``most`` points and ``target`` bytes.

    Filled from the last axis (the seeds) outwards, so that points submitted one after
    another (in flat order) share a chunk.
    """
    budget = max(1, min(most, target // max(point_bytes, 1)))
    chunks = []
    for size in reversed(shape):
        chunk = min(size, budget)
        chunks.append(chunk)
        budget = max(1, budget // chunk)
    return tuple(reversed(chunks))


def _dims(name: str, ndim: int) -> tuple:
    return tuple(f"{name}_dim{k}" for k in range(ndim))


def _template(grid: dict, n_seeds: int, schema: dict, identity: dict):
    """The empty Dataset: NaN (floats) or 0 everywhere, ``done`` False."""
    import xarray as xr

    sweep_dims = tuple(grid) + ("seed",)
    sweep_shape = tuple(len(v) for v in grid.values()) + (n_seeds,)
    data = {}
    for name, spec in schema.items():
        dtype = np.dtype(spec["dtype"])
        fill = _FLOAT_FILL.get(dtype.kind, 0)
        data[name] = (sweep_dims + _dims(name, len(spec["shape"])),
                      np.full(sweep_shape + tuple(spec["shape"]), fill, dtype=dtype))
    data["done"] = (sweep_dims, np.zeros(sweep_shape, dtype=bool))
    coords = {k: np.array(v, dtype=object) if isinstance(v[0], str) else np.asarray(v)
              for k, v in grid.items()}
    coords["seed"] = np.arange(n_seeds)
    attrs = {SPEC_ATTR: json.dumps(identity, sort_keys=True),
             OUTPUTS_ATTR: json.dumps(schema)}
    return xr.Dataset(data, coords=coords, attrs=attrs)


class MemoryWriter:
    """Results held in memory (``store=None``): nothing to resume from."""

    def __init__(self, grid: dict, n_seeds: int, identity: dict):
        self.grid, self.n_seeds, self.identity = grid, n_seeds, identity
        self.shape = tuple(len(v) for v in grid.values()) + (n_seeds,)
        self.schema = None
        self.ds = None

    def done(self) -> np.ndarray:
        return np.zeros(self.shape, dtype=bool) if self.ds is None else self.ds["done"].values

    def write(self, index: tuple, result: dict) -> None:
        if self.ds is None:
            self.schema = output_schema(result)
            self.ds = _template(self.grid, self.n_seeds, self.schema, self.identity)
        for name, value in result.items():
            self.ds[name].values[index] = value
        self.ds["done"].values[index] = True

    def dataset(self):
        if self.ds is None:  # nothing finished: an empty template has no outputs
            return _template(self.grid, self.n_seeds, {}, self.identity)
        return self.ds


class ZarrWriter:
    """Results written point by point into a zarr store at ``path``.

    Opening checks the path: it must be absent, an empty directory, or a store written by a
    sweep with the same identity; anything else is refused.
    """

    def __init__(self, path, grid: dict, n_seeds: int, identity: dict, *, owner: str):
        self.path = Path(path)
        self.grid, self.n_seeds, self.identity = grid, n_seeds, identity
        self.shape = tuple(len(v) for v in grid.values()) + (n_seeds,)
        self.group = None
        self.schema = None
        self.arrays = {}
        if self.path.exists() and not self.path.is_dir():
            raise InvalidParameterError(
                f"The 'store' parameter of {owner} must be the path of a directory (a zarr "
                f"store, new or written by the same sweep). Got {str(self.path)!r}, which is "
                "a file, instead."
            )
        if self.path.is_dir() and any(self.path.iterdir()):
            self._open_existing(owner)

    def _open_existing(self, owner: str) -> None:
        import zarr

        try:
            group = zarr.open_group(str(self.path), mode="r+")
            stored = group.attrs[SPEC_ATTR]
        except Exception:  # not a zarr group, or a group another program wrote
            raise InvalidParameterError(
                f"The 'store' parameter of {owner} must be a new or empty directory or a "
                f"store written by spikewise.sweep. Got {str(self.path)!r}, a non-empty "
                "directory that is not a sweep store, instead."
            ) from None
        stored = json.loads(stored)
        mine = json.loads(json.dumps(self.identity, sort_keys=True))
        if stored != mine:
            keys = sorted(k for k in set(stored) | set(mine) if stored.get(k) != mine.get(k))
            detail = "; ".join(f"{k}: stored {stored.get(k)!r}, requested {mine.get(k)!r}"
                               for k in keys)
            raise InvalidParameterError(
                f"The 'store' parameter of {owner} names a store written by another sweep "
                f"({str(self.path)!r}); refusing to mix results. Differences: {detail}. Use a "
                "new store path, or delete this one to start over."
            )
        self.group = group
        self.schema = json.loads(group.attrs[OUTPUTS_ATTR])
        self._arrays()

    def done(self) -> np.ndarray:
        if self.group is None:
            return np.zeros(self.shape, dtype=bool)
        return np.asarray(self.arrays["done"][...], dtype=bool)

    def _create(self, result: dict) -> None:
        import zarr

        self.schema = output_schema(result)
        ds = _template(self.grid, self.n_seeds, self.schema, self.identity)
        point_bytes = max(ds[name].dtype.itemsize * int(np.prod(spec["shape"]))
                          for name, spec in self.schema.items())
        chunks = point_chunks(self.shape, point_bytes)
        encoding = {name: {"chunks": chunks + tuple(ds[name].shape[len(chunks):])}
                    for name in ds.data_vars}
        # written aside and renamed into place, so that an interrupted creation leaves no
        # half-made store behind
        tmp = self.path.with_name(f".{self.path.name}.creating-{uuid.uuid4().hex[:8]}")
        try:
            ds.to_zarr(str(tmp), mode="w-", consolidated=False, encoding=encoding)
            os.replace(tmp, self.path)  # an empty directory at path is replaced too
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.group = zarr.open_group(str(self.path), mode="r+")
        self._arrays()

    def _arrays(self) -> None:
        """Open each variable's array once (every lookup would read its metadata)."""
        self.arrays = {name: self.group[name] for name in [*self.schema, "done"]}

    def write(self, index: tuple, result: dict) -> None:
        if self.group is None:
            self._create(result)
        for name, value in result.items():
            self.arrays[name][index] = value
        self.arrays["done"][index] = True  # last: a point is done only once fully written

    def dataset(self):
        import xarray as xr

        if self.group is None:  # nothing finished and nothing stored
            return _template(self.grid, self.n_seeds, {}, self.identity)
        ds = xr.open_dataset(str(self.path), engine="zarr", chunks=None, consolidated=False)
        return ds[[*self.schema, "done"]]  # the function's order, then the flags
