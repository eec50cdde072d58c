"""One module per measured question; each has `run(ctx) -> dict` (see bench/mode.py)."""
