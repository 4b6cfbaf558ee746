"""simcontinuum.learn (see DESIGN.md §7)."""
