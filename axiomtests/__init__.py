"""axiomtests: does a cross-encoder still compute relevance as a semantic BM25?

Run ``axiomtests run --checkpoint <dir or hub id>`` or ``pytest --pyargs axiomtests.suite --checkpoint ...``.
"""

__version__ = "0.1.0"
