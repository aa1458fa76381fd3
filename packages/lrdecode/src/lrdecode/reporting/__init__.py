"""Showing results: the figures of each analysis (`figures`, `limit_figures`) and the HTML
report of many (`report`)."""
