"""The one progress-bar helper of the package (sweeps, multi-seed runs, long simulations).

``progress=None`` (the default everywhere) shows a :mod:`tqdm.auto` bar (a widget in
Jupyter) when stderr is a terminal or the code runs in a Jupyter kernel, and hides it
otherwise: under pytest (``PYTEST_CURRENT_TEST`` is set), in CI logs and in the docs
build. ``True`` and ``False`` force it on or off.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from spikewise._validation import InvalidParameterError

__all__ = ["progress_bar", "show_progress"]


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def show_progress(progress, owner: str) -> bool:
    """Whether to show a bar: ``True``/``False`` as given; ``None``: in a terminal or a
    Jupyter kernel, never under pytest. Anything else raises, naming ``owner``."""
    if progress is None:
        if "PYTEST_CURRENT_TEST" in os.environ:
            return False
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty()) or _in_notebook()
    if not isinstance(progress, bool | np.bool_):
        raise InvalidParameterError(
            f"The 'progress' parameter of {owner} must be True, False or None. Got "
            f"{progress!r} instead.")
    return bool(progress)


def progress_bar(show: bool, **options):
    """A :class:`tqdm.auto.tqdm` bar (a context manager), disabled unless ``show``."""
    from tqdm.auto import tqdm

    return tqdm(disable=not show, dynamic_ncols=True, **options)
