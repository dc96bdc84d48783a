"""Build the C core and its Cython binding.

DICOMUL_DEBUG=1 builds with -O0 -g; DICOMUL_SANITIZE=1 adds ASan/UBSan.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

# Each extension module and the C files it links; DICOMUL_ONLY=name (e.g. ul._core)
# builds just that one.
MODULES = {
    "_recordc": [],
    "ul._core": ["csrc/ul_pdu.c"],
    "ul._fsm": ["csrc/ul_fsm.c"],
    "dimse._cmdset": ["csrc/ul_cmd.c"],
    "storage._fsops": ["csrc/fs_rename.c", "csrc/fs_store.c"],
}
cflags = ["-std=c11"] if os.name != "nt" else []
ldflags: list[str] = []
if os.environ.get("DICOMUL_DEBUG"):
    cflags += ["-O0", "-g"]
if os.environ.get("DICOMUL_SANITIZE"):
    cflags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    ldflags += ["-fsanitize=address,undefined"]


def ext(name: str) -> Extension:
    return Extension(
        f"dicomul.{name}",
        [f"src/dicomul/{name.replace('.', '/')}.pyx", *MODULES[name]],
        include_dirs=["csrc"],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )


setup(
    ext_modules=cythonize(
        [ext(n) for n in MODULES if os.environ.get("DICOMUL_ONLY", n) == n],
        language_level=3,
        include_path=["src"],
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )
)
