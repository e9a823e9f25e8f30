"""Reliability tests: a model-based test of the ledger and a schema fuzzer, over real HTTP.

A package, so that test_bank imports the harness beside it (``from .bank import``) and mypy and
pytest name these modules the same way whether the whole suite or only this folder is checked.
"""
