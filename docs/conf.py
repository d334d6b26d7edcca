"""Sphinx configuration: MyST pages, autodoc of every module, the claims reference read from claims.toml."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]  # the checkout's packages, then docs/_ext

project = "axiomtests"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "claims_reference"]
source_suffix = {".md": "markdown"}
myst_heading_anchors = 3  # links such as concepts.md#the-gate
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}
html_theme = "alabaster"
