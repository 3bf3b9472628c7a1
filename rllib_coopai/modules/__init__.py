"""RLModules (torch) and the functional helpers for differentiable inner updates."""
