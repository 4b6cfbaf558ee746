"""simcontinuum.experiment (see DESIGN.md §7)."""
