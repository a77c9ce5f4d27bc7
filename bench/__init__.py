"""The benchmark harness: `python3.14 bench/run.py --help` (or `./dev bench --help`)."""
