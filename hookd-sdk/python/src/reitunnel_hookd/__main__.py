"""python -m reitunnel_hookd: prints the SDK version and where it is installed."""

import os
import sys

from . import SDK


def _main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print("usage: python -m reitunnel_hookd    (prints the SDK version and location)")
        return 0
    print(f"{SDK} at {os.path.dirname(os.path.abspath(__file__))}")
    return 0


sys.exit(_main(sys.argv[1:]))
