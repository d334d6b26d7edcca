"""axiomtests: does a cross-encoder still compute relevance as a semantic BM25?

Run ``axiomtests run --checkpoint <dir or hub id>`` or ``pytest --pyargs axiomtests.suite --checkpoint ...``.
"""

__version__ = "0.1.0"

import circuits as _circuits

if getattr(_circuits, "DISTRIBUTION", None) != "axiomtests":  # PyPI's `circuits` (an event framework) took the name
    raise ImportError(f"the module 'circuits' found at {getattr(_circuits, '__file__', '?')} is not axiomtests' own: "
                      "the PyPI distribution 'circuits' uses the same import name. Fix: `pip uninstall circuits` in "
                      "this environment, or install axiomtests in a virtual environment of its own.")
