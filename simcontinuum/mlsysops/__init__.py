"""simcontinuum.mlsysops (see DESIGN.md §7)."""
