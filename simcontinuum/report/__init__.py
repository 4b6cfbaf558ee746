"""simcontinuum.report (see DESIGN.md §7)."""
