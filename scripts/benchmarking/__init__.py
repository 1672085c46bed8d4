"""The benchmarks behind scripts/benchmark.

images.py    the default mode: the image's sizes, builds, first /healthz and stop
cli.py       the command line
"""
