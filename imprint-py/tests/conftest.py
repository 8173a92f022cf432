"""Test settings shared by every test module."""

import os

# scikit-learn runs its array-API check (with NumPy inputs, for estimators that
# do not claim array-API support) only when SciPy's array-API mode is on,
# which must be set before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
