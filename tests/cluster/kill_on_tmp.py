#!/usr/bin/python3
"""Wait (inotify) until a checkpoint's temporary file appears in DIR, then SIGKILL every process in
network namespace NS (the node dies while the checkpoint is being written). Prints the file name.
usage: kill_on_tmp.py DIR NS TIMEOUT_S        exit 0 after the kill, 1 on timeout"""
import ctypes
import os
import re
import select
import signal
import struct
import subprocess
import sys

d, ns, tmo = sys.argv[1], sys.argv[2], float(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
IN_CREATE = 0x100
if fd < 0 or libc.inotify_add_watch(fd, d.encode(), IN_CREATE) < 0:
    sys.exit(f"kill_on_tmp: inotify on {d} failed")
pat = re.compile(r"^ckpt-\d{10}\.h5\.tmp\.")
while True:
    r, _, _ = select.select([fd], [], [], tmo)
    if not r:
        sys.exit(1)
    buf = os.read(fd, 65536)
    off = 0
    while off < len(buf):
        _, _, _, n = struct.unpack_from("iIII", buf, off)
        name = buf[off + 16:off + 16 + n].rstrip(b"\0").decode()
        off += 16 + n
        if pat.match(name):
            for _ in range(3):
                pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
                for p in pids:
                    try:
                        os.kill(int(p), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            print(name)
            sys.exit(0)
