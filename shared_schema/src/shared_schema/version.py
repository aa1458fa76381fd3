"""The package's version, in a module of its own so that submodules (manifest, cli) can
read it without importing the package's ``__init__``, which imports them."""

__version__ = "1.1.0"
