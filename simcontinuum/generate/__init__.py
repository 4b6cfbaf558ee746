"""simcontinuum.generate (see DESIGN.md §7)."""
