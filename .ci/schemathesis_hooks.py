"""Loaded by schemathesis before the run (SCHEMATHESIS_HOOKS, set by .ci/schema-fuzz).

Hypothesis describes the lambdas in its strategies by parsing the source of their module. On
Debian's Python 3.11 that parse can fail with CPython's "AST constructor recursion depth mismatch"
SystemError, which hypothesis does not catch, so an operation was reported as a runtime error of the
fuzzer rather than anything about the node (7 December, GET /users/search, once in several runs).
Such a lambda is described as unknown instead, as hypothesis does when it cannot find the source.
"""

from hypothesis.internal import lambda_sources

_describe = lambda_sources._lambda_description


def _described(f, *args, **kwargs):
    try:
        return _describe(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _described
