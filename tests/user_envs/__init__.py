"""Environments written outside the package, used by tests/test_byo_env.py by class path."""
