"""Sphinx configuration: the API reference of gendiff (autosummary over each subpackage's
``__all__``) and the stored notebooks of ../notebooks, rendered without being re-run.

Build (the same command .ci/run runs; warnings are errors)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pathlib
import re
import sys

import sphinx.ext.autosummary
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.util import logging

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the checkout's gendiff, also when it is not installed

import gendiff  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"

project = "gendiff"
copyright = "the gendiff authors"
release = version = gendiff.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]

# Sources: the pages here, the autosummary stubs, and only the numbered notebooks of ../notebooks
# (docs/notebooks is a link to it): never their py:percent twins, conftest.py or anything else.
root_doc = "index"
include_patterns = ["*.md", "*.rst", "generated/*", f"notebooks/{NOTEBOOK_PATTERN}"]
exclude_patterns = ["_build", "notebooks/.ipynb_checkpoints"]
templates_path = ["_templates"]
nitpicky = False

# API reference: one stub page per public name (docs/generated/, rebuilt on every build).
autosummary_generate = True
autosummary_imported_members = True
# Names differing only in case would share one stub file on a case-insensitive file system.
autosummary_filename_map = {"gendiff.ssl.mine": "gendiff.ssl.mine-function"}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_attr_annotations = False  # the class signature shows the fields' types

# Notebooks: rendered from their stored outputs, never executed here.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]

html_theme = "alabaster"
html_title = f"gendiff {release}"
html_static_path: list[str] = []


def public_names(modname: str) -> list[str]:
    """A module's ``__all__``, or else the public names its own source defines at top level."""
    module = importlib.import_module(modname)
    if hasattr(module, "__all__"):
        return [name for name in module.__all__ if not name.startswith("_")]
    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return [name for name in names if not name.startswith("_")]


def listed_names(api_rst: str) -> dict[str, set[str]]:
    """The names api.rst lists under each ``.. currentmodule::``."""
    listed: dict[str, set[str]] = {}
    current = None
    for line in api_rst.splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            current = listed.setdefault(match[1], set())
        elif current is not None and (match := re.fullmatch(r"   ~?([A-Za-z_][\w.]*)", line)):
            current.add(match[1])
    return listed


def check_api_is_complete(app) -> None:
    """Warns (an error under -W) when api.rst and the subpackages' public names disagree."""
    logger = logging.getLogger(__name__)
    listed = listed_names((DOCS / "api.rst").read_text())
    for sub in gendiff.SUBMODULES:
        modname = f"gendiff.{sub}"
        public, shown = set(public_names(modname)), listed.get(modname, set())
        for name in sorted(public - shown):
            logger.warning(
                f"api.rst does not list {modname}.{name}, a public name: add it to the "
                f"autosummary after '.. currentmodule:: {modname}'"
            )
        for name in sorted(shown - public):
            logger.warning(f"api.rst lists {modname}.{name}, which is not a public name")


def returns_as_prose(self, preprocess_types: bool = False):
    """A Returns (or Yields) section is one description: the library's Returns sections are
    prose such as ``(loss, metrics): the mean loss ...``, where napoleon would read the text
    before the first colon as a return type."""
    del preprocess_types
    lines = self._dedent(self._consume_to_next_section())
    return [("", "", lines)] if lines else []


GoogleDocstring._consume_returns_section = returns_as_prose


def summary_first_paragraph(doc, settings) -> str:
    """A name's summary in the API tables: the whole first paragraph of its docstring, where
    autosummary would cut it at the first '. ', in these docstrings as often a dot product
    (``q_i . k_j``) or an ellipsis as the end of a sentence."""
    del settings
    stanza: list[str] = []
    for line in doc:
        if line.strip():
            stanza.append(line.strip())
        elif stanza:
            break
    return re.sub(r"::$", ".", " ".join(stanza))


sphinx.ext.autosummary.extract_summary = summary_first_paragraph


def skip_class_data(app, what, name, obj, skip, options):
    """Documents a class's methods and properties, not its data members: the fields of a
    NamedTuple, dataclass or Flax module are described by the class's Attributes section (or its
    signature), and documenting them again would describe each field twice."""
    del app, name, skip, options
    if what in ("class", "exception") and not (
        inspect.isroutine(obj) or isinstance(obj, (property, functools.cached_property))
    ):
        return True
    return None


def drop_type_docstring(app, what, name, obj, options, lines) -> None:
    """A constant without a doc comment would show its type's docstring (dict's, tuple's): drop it."""
    del app, name, options
    if what in ("data", "attribute") and lines:
        type_doc = inspect.getdoc(type(obj))
        if type_doc and lines[0].strip() == type_doc.splitlines()[0].strip():
            lines.clear()


def notebooks_page_without_notebooks(app, docname, source) -> None:
    """With no numbered notebook yet, the notebooks page says so instead of an empty glob."""
    if docname == "notebooks" and not any(NOTEBOOKS.glob(NOTEBOOK_PATTERN)):
        source[0] = (
            source[0].replace(
                f"notebooks/{NOTEBOOK_PATTERN.removesuffix('.ipynb')}\n",
                "",
            )
            + "\nThere are no notebooks in this checkout yet.\n"
        )


def setup(app):
    app.connect("builder-inited", check_api_is_complete)
    app.connect("autodoc-skip-member", skip_class_data)
    app.connect("autodoc-process-docstring", drop_type_docstring, priority=400)
    app.connect("source-read", notebooks_page_without_notebooks)
    # Read the notebooks page on every build, so that it follows notebooks added or removed.
    app.connect("env-get-outdated", lambda app, env, added, changed, removed: ["notebooks"])
