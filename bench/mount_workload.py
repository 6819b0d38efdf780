#!/usr/bin/env python3
"""The mount benchmark's workload: plain system calls from a non-JS program.

usage: mount_workload.py DIR [SEQ_MIB] [SMALL_FILES]
Prints one JSON object of figures (MiB/s and operations/s) on stdout.
"""
import json
import os
import random
import sys
import time

d = sys.argv[1]
seq_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 256
n_small = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
MIB = 1 << 20
out = {}


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


big = os.path.join(d, "big.bin")
block = os.urandom(MIB)


def seq_write():
    fd = os.open(big, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for _ in range(seq_mib):
        os.write(fd, block)
    os.fsync(fd)
    os.close(fd)


def seq_read():
    fd = os.open(big, os.O_RDONLY)
    while os.read(fd, MIB):
        pass
    os.close(fd)


out["seq_write_mib_s"] = seq_mib / timed(seq_write)
out["seq_read_mib_s"] = seq_mib / timed(seq_read)

small_mib = max(1, seq_mib // 8)
page = os.urandom(4096)


def small_writes():
    fd = os.open(os.path.join(d, "small.bin"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for _ in range(small_mib * 256):
        os.write(fd, page)
    os.fsync(fd)
    os.close(fd)


out["write_4k_mib_s"] = small_mib / timed(small_writes)

rng = random.Random(42)
offsets = [rng.randrange(0, seq_mib * 256) * 4096 for _ in range(small_mib * 256)]


def random_reads():
    fd = os.open(big, os.O_RDONLY)
    for off in offsets:
        os.pread(fd, 4096, off)
    os.close(fd)


out["read_4k_random_mib_s"] = small_mib / timed(random_reads)

sd = os.path.join(d, "many")
os.mkdir(sd)
names = [os.path.join(sd, "f%05d" % i) for i in range(n_small)]
payload = b"x" * 100


def create():
    for p in names:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, payload)
        os.close(fd)


def stat_all():
    for p in names:
        os.stat(p)


def readdir_stat():
    for e in os.scandir(sd):
        os.stat(e.path)


def open_read_close():
    for p in names:
        fd = os.open(p, os.O_RDONLY)
        os.read(fd, 4096)
        os.close(fd)


def unlink():
    for p in names:
        os.unlink(p)


out["create_ops_s"] = n_small / timed(create)
out["stat_ops_s"] = n_small / timed(stat_all)
out["readdir_stat_ops_s"] = n_small / timed(readdir_stat)
out["open_read_close_ops_s"] = n_small / timed(open_read_close)
out["unlink_ops_s"] = n_small / timed(unlink)
os.rmdir(sd)
os.unlink(big)
os.unlink(os.path.join(d, "small.bin"))
print(json.dumps(out))
