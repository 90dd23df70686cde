"""Benchmarks and fault drills against the sandbox server that `make demo` provisions.

`python -m kitbench.bench` measures the stack against its own ceiling (make bench);
`python -m kitbench.drills` breaks it on purpose under load (make drills).
"""
