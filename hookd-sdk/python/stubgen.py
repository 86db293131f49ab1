"""Generates the package's protobuf/gRPC modules with protoc.

Used at build time by setup.py (into the wheel's reitunnel_hookd/_proto/) and
by the CMake build (build/python/reitunnel_hookd/_proto/); never committed.

    python3 stubgen.py --out=DIR      # DIR becomes the reitunnel_hookd._proto package

Inputs, each looked up in order:
  reitunnel/hook/v1/hook.proto   $REITUNNEL_PROTO_DIR, ./proto (an sdist's
                                 copy), ../../proto (the Reitunnel repository)
  grpc/health/v1/health.proto,   $REITUNNEL_GRPC_PROTO_DIR, ./proto,
  grpc/reflection/v1*/...        /usr/share/grpc-proto (Debian: grpc-proto)
  protoc                         $PROTOC, protoc on PATH (Debian: protobuf-compiler)
  grpc_python_plugin             $GRPC_PYTHON_PLUGIN, on PATH, /usr/bin
                                 (Debian: protobuf-compiler-grpc)
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

HOOK_PROTOS = ["reitunnel/hook/v1/hook.proto"]
# grpc.reflection.v1 is optional: older grpc-proto releases only have v1alpha.
GRPC_PROTOS = ["grpc/health/v1/health.proto", "grpc/reflection/v1alpha/reflection.proto"]
OPTIONAL_GRPC_PROTOS = ["grpc/reflection/v1/reflection.proto"]


class StubError(Exception):
    pass


def _find_root(relative, candidates, what, hint):
    for root in candidates:
        if root and os.path.isfile(os.path.join(root, relative)):
            return root
    raise StubError(f"cannot find {relative} ({what}); looked in: "
                    f"{', '.join(c for c in candidates if c)}. {hint}")


def hook_proto_root():
    return _find_root(HOOK_PROTOS[0],
                      [os.environ.get("REITUNNEL_PROTO_DIR"), os.path.join(HERE, "proto"),
                       os.path.normpath(os.path.join(HERE, "..", "..", "proto"))],
                      "the hook contract",
                      "Build from hookd-sdk/python inside the Reitunnel repository, from an "
                      "sdist, or set REITUNNEL_PROTO_DIR.")


def grpc_proto_root():
    return _find_root(GRPC_PROTOS[0],
                      [os.environ.get("REITUNNEL_GRPC_PROTO_DIR"), os.path.join(HERE, "proto"),
                       "/usr/share/grpc-proto"],
                      "gRPC health and reflection",
                      "Install Debian's grpc-proto or set REITUNNEL_GRPC_PROTO_DIR.")


def _tool(env, name, extra_dirs=()):
    path = os.environ.get(env) or shutil.which(name)
    for d in extra_dirs:
        if not path and os.access(os.path.join(d, name), os.X_OK):
            path = os.path.join(d, name)
    return path


def protoc():
    path = _tool("PROTOC", "protoc")
    if not path:
        raise StubError("protoc not found: install Debian's protobuf-compiler or set PROTOC")
    return path


def grpc_python_plugin():
    path = _tool("GRPC_PYTHON_PLUGIN", "grpc_python_plugin", ["/usr/bin"])
    if not path:
        raise StubError("grpc_python_plugin not found: install Debian's protobuf-compiler-grpc "
                        "or set GRPC_PYTHON_PLUGIN")
    return path


def _run_protoc(root, protos, out):
    command = [protoc(), f"-I{root}", f"--python_out={out}", f"--grpc_out={out}",
               f"--plugin=protoc-gen-grpc={grpc_python_plugin()}"] + protos
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise StubError(f"protoc failed ({' '.join(command)}):\n{result.stderr}")


# protoc writes absolute imports ("from reitunnel.hook.v1 import hook_pb2"),
# which only work with the generated tree at the top of sys.path. Inside the
# package the sibling module is imported relatively instead.
_SIBLING_IMPORT = re.compile(r"^from ([\w.]+) import (\w+_pb2) as (\w+)$", re.M)


def _relativize(path, package):
    with open(path) as f:
        text = f.read()
    count = 0

    def replace(match):
        nonlocal count
        if match.group(1) != package:
            return match.group(0)
        count += 1
        return f"from . import {match.group(2)} as {match.group(3)}"

    text = _SIBLING_IMPORT.sub(replace, text)
    if count == 0 and "_pb2 as " in text:
        raise StubError(f"{path}: no import of its own messages found to rewrite")
    with open(path, "w") as f:
        f.write(text)


def generate(out):
    """Writes the reitunnel_hookd._proto package to `out` (created)."""
    os.makedirs(out, exist_ok=True)
    hook_root = hook_proto_root()
    _run_protoc(hook_root, HOOK_PROTOS, out)
    grpc_root = grpc_proto_root()
    protos = GRPC_PROTOS + [p for p in OPTIONAL_GRPC_PROTOS
                            if os.path.isfile(os.path.join(grpc_root, p))]
    _run_protoc(grpc_root, protos, out)
    for proto in HOOK_PROTOS + protos:
        module_dir = os.path.dirname(proto)
        package = module_dir.replace("/", ".")
        stem = os.path.splitext(os.path.basename(proto))[0]
        _relativize(os.path.join(out, module_dir, f"{stem}_pb2_grpc.py"), package)
        # Every directory down to the module is a package.
        d = out
        for part in [""] + module_dir.split("/"):
            d = os.path.join(d, part) if part else d
            init = os.path.join(d, "__init__.py")
            if not os.path.exists(init):
                open(init, "w").close()


def copy_protos(dest):
    """Copies every input .proto to `dest` (an sdist's proto/ directory)."""
    for root, protos in ((hook_proto_root(), HOOK_PROTOS), (grpc_proto_root(), GRPC_PROTOS +
                                                            OPTIONAL_GRPC_PROTOS)):
        for proto in protos:
            src = os.path.join(root, proto)
            if os.path.isfile(src):
                os.makedirs(os.path.dirname(os.path.join(dest, proto)), exist_ok=True)
                shutil.copyfile(src, os.path.join(dest, proto))


def main(argv):
    parser = argparse.ArgumentParser(description="Generate reitunnel_hookd._proto")
    parser.add_argument("--out", required=True, help="directory of the _proto package")
    args = parser.parse_args(argv)
    try:
        generate(args.out)
    except StubError as e:
        print(f"stubgen.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
