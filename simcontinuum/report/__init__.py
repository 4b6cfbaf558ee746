"""Figures and self-contained HTML reports (see DESIGN.md §7).

- ``results.plot.<figure>()`` (:class:`simcontinuum.report.figures.Plotter`): matplotlib
  figures of one run;
- :func:`simcontinuum.report.run.write_report`: the HTML report of one run
  (``simcontinuum report DIR``, ``simcontinuum run ... --report``);
- :func:`simcontinuum.report.bench.bench_report`: policies compared over a sweep table;
- :mod:`simcontinuum.report.html`: ``figure_to_html``, ``table_html``, ``page`` for other
  writers of HTML.

Importing this package is cheap: submodules load matplotlib and pandas when imported.
"""
