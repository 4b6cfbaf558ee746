"""The engine: one :class:`~simcontinuum.engine.simulation.Simulation` owns a SimPy
environment, the run's state, its recorder and its finalize step. Other packages use only
``Simulation``'s public driving API and the record types of :mod:`simcontinuum.engine.recorder`
(checked by the import-linter contracts in ``pyproject.toml``)."""
