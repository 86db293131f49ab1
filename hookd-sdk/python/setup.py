"""Build hooks for the reitunnel-hookd package (metadata is in pyproject.toml).

build_py generates reitunnel_hookd._proto from the .proto files with protoc
(stubgen.py); sdist puts copies of those .proto files into the archive so it
builds away from the Reitunnel repository."""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stubgen  # noqa: E402


class BuildPyWithStubs(build_py):
    def run(self):
        super().run()
        try:
            stubgen.generate(os.path.join(self.build_lib, "reitunnel_hookd", "_proto"))
        except stubgen.StubError as e:
            sys.exit(f"reitunnel-hookd: {e}")


class SdistWithProtos(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        stubgen.copy_protos(os.path.join(base_dir, "proto"))


setup(cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos})
