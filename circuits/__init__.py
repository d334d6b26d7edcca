"""Mechanistic machinery for cross-encoders: hooked model, patching, matching, IDF, SemanticBM, reports.

Knows nothing of pytest; ``axiomtests`` builds the product on top of it.
"""

from circuits.errors import AxiomError, CheckpointError, DatasetError, HookError, InputError

__all__ = ["AxiomError", "CheckpointError", "DatasetError", "HookError", "InputError"]
