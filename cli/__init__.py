"""The ``evidence-hub`` command line (Typer)."""
