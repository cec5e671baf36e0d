"""A function's /tmp capped at its EphemeralStorage size, as Lambda caps it (512-10240 MB, default 512):
https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html

Each environment's /tmp folder (the pool's, TMPDIR) becomes a tmpfs of exactly that size. A holder process owns it:
it enters a user and mount namespace of its own (unprivileged: no root needed), mounts the tmpfs on the folder and
waits. Each worker of the environment joins the holder's namespaces before anything else runs (`join`), so the
tmpfs, and what is in it, outlives a worker that is reset after a crash, as Lambda keeps /tmp then; it goes when
the pool removes the folder (`release`) or localaws exits (the holder reads its stdin to EOF). A write beyond the
size fails inside the handler with the kernel's own `OSError: [Errno 28] No space left on device`, as on AWS.

Standard library only: bootstrap.py loads this file by path, and it is the holder's script. Where the kernel
refuses user namespaces, `supported()` is False and /tmp is a plain, uncapped folder (localaws logs that).
"""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys
import tempfile
import threading

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18

_holders: dict[str, subprocess.Popen] = {}
_lock = threading.Lock()


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def mount_tmpfs(path: str, size_mb: int) -> None:
    """Gives this single-threaded process its own user and mount namespace with a `size_mb` tmpfs at `path` (its
    uid and gid mapped to themselves); OSError if the kernel refuses."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    options = f"size={int(size_mb)}m,mode=1777".encode()
    _check(libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, options), f"mount tmpfs {path}")


def join(holder_pid: int) -> None:
    """Enters the holder's namespaces (this process must be single-threaded), keeping the working directory."""
    libc, cwd = _libc(), os.getcwd()
    for kind, flag in (("user", CLONE_NEWUSER), ("mnt", CLONE_NEWNS)):
        descriptor = os.open(f"/proc/{holder_pid}/ns/{kind}", os.O_RDONLY)
        try:
            _check(libc.setns(descriptor, flag), f"setns {kind}")
        finally:
            os.close(descriptor)
    os.chdir(cwd)  # entering a mount namespace moves the working directory to its root


def hold(path: str, size_mb: int) -> int:
    """The pid of the process holding a `size_mb` tmpfs on `path` (started on first use); OSError if it failed."""
    with _lock:
        holder = _holders.get(path)
        if holder is not None and holder.poll() is None:
            return holder.pid
        holder = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, path, str(int(size_mb))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert holder.stdout is not None
        if holder.stdout.readline().strip() != b"ready":
            error = holder.communicate()[1].decode(errors="replace").strip()
            raise OSError(f"cannot cap /tmp at {size_mb} MB: {error}")
        _holders[path] = holder
        return holder.pid


def release(path: str) -> None:
    """Ends the holder of `path`, and with it the tmpfs and its contents (no-op if none)."""
    with _lock:
        holder = _holders.pop(path, None)
    if holder is not None:
        holder.communicate()  # EOF on its stdin: it exits


@functools.cache
def supported() -> bool:
    """Whether a capped /tmp works here: a holder mounts a 1 MB tmpfs and a child joins it (tried once)."""
    folder = tempfile.mkdtemp(prefix="localaws-tmp-probe-")
    probe = (
        "import importlib.util, os, sys\n"
        f"spec = importlib.util.spec_from_file_location('tmp_storage', {__file__!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "module.join(int(sys.argv[1]))\n"
        f"stats = os.statvfs({folder!r}); sys.exit(0 if stats.f_blocks * stats.f_frsize == 2**20 else 1)\n"
    )
    try:
        pid = hold(folder, 1)
        done = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(pid)], capture_output=True, timeout=30)
        return done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        release(folder)
        os.rmdir(folder)


if __name__ == "__main__":  # the holder: mount, say so, and keep the namespace alive until stdin closes
    mount_tmpfs(sys.argv[1], int(sys.argv[2]))
    print("ready", flush=True)
    sys.stdin.buffer.read()
