"""Helpers the tests share, by topic; fixtures stay in tests/conftest.py.

Test modules import from here (``from support.api import Api``), never from conftest or from
one another. pytest puts tests/ on ``sys.path`` (rootdir-relative ``prepend`` imports: tests/
has no ``__init__.py``), and mypy, checking tests/, finds this package from the same folder.
"""
