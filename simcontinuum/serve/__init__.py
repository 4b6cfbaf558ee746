"""The competition server: teams submit policies all day, a live leaderboard ranks them.

``simcontinuum serve competition.yaml`` runs one ASGI application (Starlette under uvicorn)
and, in the same process, a dispatcher thread that evaluates queued submissions on an
executor (local processes by default, a Dask cluster with ``--executor dask``). Every state
change is one database transaction (SQLite by default, PostgreSQL through SQLAlchemy), so a
server killed at any point resumes its queue when started again.

Modules, bottom to top: :mod:`.config` (``competition.yaml``, seeds from the organizer's
secret), :mod:`.ladder` (the public board's release rule), :mod:`.store` (tables and every
transaction), :mod:`.evaluate` (the one call into the trusted evaluation), :mod:`.dispatch`
(queue → executor → results), :mod:`.app` (HTTP), :mod:`.client` (``submit``/``status``),
:mod:`.commands` (the CLI). Needs the optional extra: ``pip install 'simcontinuum[serve]'``.
"""

SERVE_HINT = "install the optional extra: pip install 'simcontinuum[serve]'"
