"""`make doctor`: a read-only preflight of `make up` (see tools/doctor/runner.py)."""

from tools.doctor.runner import main, run

__all__ = ["main", "run"]
