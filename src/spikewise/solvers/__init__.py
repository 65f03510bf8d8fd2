"""The theory side: spectral laws, Stieltjes-transform solvers, outlier engines."""

__all__: list[str] = []
