"""Benchmarks: `python -m bench` (`make bench`) runs them all and writes bench/results/*.json.

Each module is also a script (`python -m bench.<name> --help`); none asserts on timings.
"""
