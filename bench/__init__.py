"""Benchmarks: one script per measurement, printing its figures (see BENCHMARKS.md).

Every script runs from the repository root in either form, with the same result:

    .venv/bin/python bench/slots.py --small
    .venv/bin/python -m bench.slots --small

Scripts share helpers (`bench.serve`, `bench.seeding`, `bench.graphql_overhead`,
`tests.fakes`) by absolute import from the repository root. Run as `python bench/x.py`,
Python puts the script's folder, bench/, first on `sys.path` instead of the root, and those
imports fail. So each script that imports from `bench.` or `tests.` starts with the same two
lines, before those imports:

    if not __package__:  # run as `python bench/<script>.py`: see bench/__init__.py
        sys.path[0] = str(Path(__file__).resolve().parents[1])

`__package__` is empty only when the file runs as a script; imported (by the tests, or with
`-m`) it is "bench" and the path is left alone. It cannot live in a shared module, since
importing that module is what needs the path. `tests/test_bench_commands.py` runs every
script's `--help` both ways.
"""
