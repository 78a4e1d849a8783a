"""Reproducible performance scripts (``make bench`` = ``python -m benchmarks``).

Each benchmark runs in its own process with a fresh temporary ``DATA_DIR`` (SQLite portal
database and simulator files), prints its figures and the machine it ran on, and never
touches the developer's ``.data/``.
"""
