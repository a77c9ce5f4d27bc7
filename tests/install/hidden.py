"""Runs a command with some Debian packages' files hidden from it, as if the
packages were not installed: `python3 hidden.py PACKAGE... -- COMMAND...`.

In a mount namespace of its own, each regular file the packages installed
(their docs aside) is covered by an empty one (/dev/null bound over it), so a
build that still used one fails loudly: an empty header, an empty library.
Symlinks stay (a bind mount would cover their target): libllhttp.so points at
a file of libllhttp9.4, hidden too; libnghttp2.so at the runtime library
that cmake itself needs. Nothing outside the namespace changes, and it ends
with the command. Needs root and dpkg, as in the ./dev root.
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import sys

MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def _mount(source: str | None, target: str, flags: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_void_p)
    ok = libc.mount(source.encode() if source else None, target.encode(), None, flags, None)
    return 0 if ok == 0 else ctypes.get_errno()


def package_files(packages: list[str]) -> list[str]:
    listed = subprocess.run(["dpkg-query", "-L", *packages], check=True, capture_output=True,
                            text=True).stdout.split()
    return sorted(p for p in set(listed)
                  if not p.startswith("/usr/share/") and os.path.isfile(p) and not os.path.islink(p))


def main(argv: list[str]) -> None:
    split = argv.index("--")
    packages, command = argv[:split], argv[split + 1:]
    files = package_files(packages)
    os.unshare(os.CLONE_NEWNS)
    # Keep our mounts in this namespace. A chroot's "/" is no mount point
    # (EINVAL); then every mount must already be private, as ./dev makes them.
    code = _mount(None, "/", MS_REC | MS_PRIVATE)
    if code == errno.EINVAL:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            if " shared:" in f.read():
                sys.exit("hidden.py: shared mounts here; run it in the ./dev root")
    elif code:
        sys.exit(f"hidden.py: cannot make the mounts private: {os.strerror(code)}")
    for path in files:
        code = _mount("/dev/null", path, MS_BIND)
        if code:
            sys.exit(f"hidden.py: cannot hide {path}: {os.strerror(code)}")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
