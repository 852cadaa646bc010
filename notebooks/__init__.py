"""The notebooks, a package only so that pytest imports notebooks/conftest.py under its own
name (tests/conftest.py is the other conftest)."""
