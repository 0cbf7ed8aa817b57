"""Small helpers shared by tests."""

import numpy as np


def unit(*weights: float, dim: int = 16) -> np.ndarray:
    """A unit vector whose first components are `weights`: easy to reason about in tests."""
    v = np.zeros(dim, dtype=np.float32)
    v[: len(weights)] = weights
    return v / np.linalg.norm(v)
