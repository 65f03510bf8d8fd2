"""The empirical side: sampling, gradient steps, features, spectra, alignments, ridge."""

__all__: list[str] = []
