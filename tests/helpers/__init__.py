"""Helpers shared by test modules: builders, harnesses and small assertions. Test modules
import shared code from here (or from `tests.fakes`), never from one another; see
tests/test_test_layout.py."""
