"""Metrics: pure functions of result tables (score parts, latency statistics). Nothing here
knows the engine or the :class:`~simcontinuum.results.Results` class — only DataFrames and
numbers in, numbers out (see :mod:`simcontinuum.metrics.score`)."""
