"""Mechanistic machinery for cross-encoders: hooked model, patching, matching, IDF, SemanticBM, reports.

Knows nothing of pytest; ``axiomtests`` builds the product on top of it.
"""

from circuits.errors import AxiomError, CheckpointError, DatasetError, HookError, InputError

DISTRIBUTION = "axiomtests"  # the import name is shared with an unrelated PyPI project; axiomtests checks this mark
__all__ = ["DISTRIBUTION", "AxiomError", "CheckpointError", "DatasetError", "HookError", "InputError"]
