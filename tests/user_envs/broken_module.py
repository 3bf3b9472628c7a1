"""A user module that fails to import (for the error-message tests)."""
import this_dependency_is_not_installed  # noqa: F401
