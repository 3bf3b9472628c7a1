"""Learning machinery the package's algorithms share (validation, numeric guards, sampling)."""
