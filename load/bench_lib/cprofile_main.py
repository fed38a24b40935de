"""The gateway CLI under cProfile (the profile fallback): ``cprofile_main.py OUT.pstats ARGS``."""

from __future__ import annotations

import cProfile
import sys

from gateway.__main__ import main

if __name__ == "__main__":
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        code = main(sys.argv[2:])
    finally:
        profiler.disable()
        profiler.dump_stats(sys.argv[1])
    sys.exit(code)
