"""Benchmarks with their own baselines; see bench/__main__.py."""
