"""Finds the Python SDK for the tests: an installed reitunnel_hookd, or the
copy the build staged in build/python/ ($REITUNNEL_HOOK_STUBS, set by ctest)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
STAGED = os.environ.get("REITUNNEL_HOOK_STUBS") or os.path.join(REPO, "build", "python")
if STAGED not in sys.path:
    sys.path.insert(0, STAGED)

import reitunnel_hookd  # noqa: E402,F401
