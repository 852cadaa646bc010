"""Every public function and class of gendiff carries a runnable docstring example.

The public names are the ``__all__`` of each subpackage in ``gendiff.SUBMODULES`` (for a module
without ``__all__``: the names without a leading underscore that it defines). Plain constants
(tuples, dicts, strings, numbers, registry instances, type aliases) are skipped; NamedTuple and
dataclass result types count. ``pytest --doctest-modules`` runs the examples themselves; this test
checks that each one exists and that the doctest collector of its defining module finds it.
"""

import doctest
import functools
import importlib
import inspect

import pytest

import gendiff


def _public_callables():
    """(qualified public name, object) for every function or class in a subpackage ``__all__``."""
    found = []
    for sub in gendiff.SUBMODULES:
        module = importlib.import_module(f"gendiff.{sub}")
        names = getattr(module, "__all__", None)
        if names is None:
            names = [
                attr
                for attr, obj in vars(module).items()
                if not attr.startswith("_") and getattr(obj, "__module__", None) == module.__name__
            ]
        for attr in names:
            obj = getattr(module, attr)
            target = inspect.unwrap(obj) if callable(obj) and not inspect.isclass(obj) else obj
            if inspect.isclass(target) or inspect.isfunction(target):
                found.append((f"{sub}.{attr}", target))
    return found


PUBLIC = _public_callables()


@functools.cache
def _collected_examples(module_name):
    """Names of the docstrings with examples that doctest collects from one module."""
    module = importlib.import_module(module_name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, module_name)
    return frozenset(t.name for t in tests if t.examples)


def test_public_names_are_found():
    names = dict(PUBLIC)
    # Spot checks that the enumeration sees functions, classes, NamedTuples, dataclasses and jitted
    # functions alike, and skips constants.
    for name in (
        "ddpm.posterior_variance",
        "paths.VPPath",
        "classic.GMMParams",
        "ssm.kernel_dplr",
        "distributions.normal_kl",
    ):
        assert name in names, name
    assert "samplers.SPACINGS" not in names
    assert len(PUBLIC) > 300


def _without_example(pairs):
    return [name for name, obj in pairs if ">>>" not in (inspect.getdoc(obj) or "")]


def test_the_check_flags_a_missing_example():
    def documented():
        """Doubles.

        >>> 2 * 1
        2
        """

    def undocumented():
        """Doubles, without an example."""

    class Bare:
        pass

    pairs = [("documented", documented), ("undocumented", undocumented), ("Bare", Bare)]
    assert _without_example(pairs) == ["undocumented", "Bare"]


def test_every_public_function_and_class_has_an_example():
    missing = _without_example(PUBLIC)
    assert not missing, f"{len(missing)} public names without a '>>>' example: {' '.join(missing)}"


def test_doctest_collects_every_example():
    """An example doctest never collects (e.g. a docstring set after definition) never runs."""
    lost = []
    for name, obj in PUBLIC:
        if ">>>" not in (inspect.getdoc(obj) or ""):
            continue  # reported by the test above
        if f"{obj.__module__}.{obj.__qualname__}" not in _collected_examples(obj.__module__):
            lost.append(name)
    assert not lost, f"examples doctest does not collect: {' '.join(lost)}"


@pytest.mark.parametrize("sub", gendiff.SUBMODULES)
def test_import_gendiff_exposes_subpackage(sub):
    assert sub in dir(gendiff)
    assert getattr(gendiff, sub) is importlib.import_module(f"gendiff.{sub}")


def test_version_and_unknown_attribute():
    assert isinstance(gendiff.__version__, str) and gendiff.__version__
    assert "__version__" in gendiff.__all__
    with pytest.raises(AttributeError, match="subpackages are"):
        gendiff.no_such_subpackage  # noqa: B018
