"""Reliability tests: a model-based test of the ledger and a schema fuzzer, over real HTTP.

A package so that mypy and pytest resolve ``conftest`` (in tests/) and the shared helpers here
the same way whether the whole suite or only this folder is checked.
"""
