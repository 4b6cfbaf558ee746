"""Experiments: resumable parallel sweeps, their statistics, and the leaderboard.

- :func:`~simcontinuum.experiment.bench.run_bench` runs policies × scenarios × seeds through a
  ``concurrent.futures.Executor`` (this process, local processes, or Dask), stores each
  finished run as a small JSON file keyed by (scenario digest with its traces, policy hash
  with the files it reads, seed, version, source fingerprint of the package),
  skips stored runs on the next call, and summarises: mean and Student-t confidence interval
  per policy and scenario, mean-rank ranking, paired comparison with a baseline
  (:mod:`~simcontinuum.experiment.stats`).
- :func:`~simcontinuum.experiment.leaderboard.run_leaderboard` evaluates one submission per
  team on hidden scenarios, the engine and the score here, each team's policy behind the
  trust boundary in a bubblewrap sandbox (:mod:`simcontinuum.boundary`,
  ``docs/security.md``).

Importing this package is cheap; the modules load pandas and the engine when used. Code that
uses the process executor from a script must guard its entry point with
``if __name__ == "__main__":`` (workers are started with ``spawn``).
"""
