#!/usr/bin/env python3
"""Regenerates the committed seed corpus of the fuzz targets (tests/fuzz/corpus).

Records real /stream bodies from a running `walstream primary` serving a small database (page
size 512, so the seeds stay small) and derives every target's seeds from them. Needs the built
binary, sqlite3, curl and lz4 (all installed by `make build`'s packages, curl aside).

Usage: tests/fuzz/make_seeds.py [path/to/walstream]   (default: build/walstream)
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
HEADER = struct.Struct(">IIQQQQ")  # type, flags, generation, index, offset, size


def sql(db, statements):
    subprocess.run(["sqlite3", db], input=statements, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def records(body):
    at = 0
    while at + HEADER.size <= len(body):
        rtype, flags, gen, index, offset, size = HEADER.unpack_from(body, at)
        payload = body[at + HEADER.size:at + HEADER.size + size]
        yield dict(type=rtype, flags=flags, gen=gen, index=index, offset=offset, payload=payload)
        at += HEADER.size + size


def unlz4(data):
    return subprocess.run(["lz4", "-dc"], input=data, capture_output=True, check=True).stdout


def fetch(port, query, seconds, during=None):
    """The /stream body for `query`, cut after `seconds`; `during` runs while it streams."""
    curl = subprocess.Popen(["curl", "-s", "--max-time", str(seconds),
                             f"http://127.0.0.1:{port}/stream?{query}"], stdout=subprocess.PIPE)
    time.sleep(0.5)
    if during:
        during()
    body, _ = curl.communicate()
    return body


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def fnv1a32(text):
    h = 2166136261
    for c in text.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def position_line(fields):
    fields = fields.ljust(160)
    return f"{fields} sum={fnv1a32(fields):08x}\n"


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def skippable(magic, payload):
    """An LZ4 skippable frame; the payload ends with its FNV-1a 64 (docs/backup.md §3, §4)."""
    payload += struct.pack(">Q", fnv1a64(payload))
    return struct.pack("<II", magic, len(payload)) + payload


def lz4_file_frame(data, tmp):
    """One LZ4 frame with content size and checksum, as lz4Compress writes (the tool knows the
    size only of a file)."""
    path = os.path.join(tmp, "block")
    with open(path, "wb") as f:
        f.write(data)
    return subprocess.run(["lz4", "-c", "-q", "--content-size", path], capture_output=True,
                          check=True).stdout


def wal_object(gen, index, segments):
    """segments: (offset, WAL bytes, lz4 frame) of one index, contiguous."""
    payload = b"WSWAL001" + struct.pack(">QQQQI", gen, index, segments[0][0], 0, len(segments))
    for i, (offset, wal_bytes, frame) in enumerate(segments):
        payload += struct.pack(">QQQq", offset, wal_bytes, len(frame), 1700000000000 + i)
    return skippable(0x184D2A5D, payload) + b"".join(s[2] for s in segments)


def snapshot_object(gen, index, offset, image, page_size, pages_per_block, tmp):
    block_bytes = page_size * pages_per_block
    blocks = [lz4_file_frame(image[at:at + block_bytes], tmp)
              for at in range(0, len(image), block_bytes)]
    # A chain only past offset 0; its values are not checked against the image here.
    chain = (1, 0x11223344, 0x55667788, 0x99AABBCC, 0xDDEEFF00, 1) if offset else (0,) * 6
    payload = b"WSSNAP01" + struct.pack(">QQQIQIB4IBqQ", gen, index, offset, page_size,
                                        len(image) // page_size, pages_per_block, *chain,
                                        1700000000000, len(blocks))
    at = 0
    for block in blocks:
        payload += struct.pack(">QQ", at, len(block))
        at += len(block)
    index_frame = skippable(0x184D2A5E, payload)
    footer = struct.pack("<II", 0x184D2A5F, 8) + struct.pack(">Q", at)
    return b"".join(blocks), index_frame, footer


def backup_seeds(snapshot, wal, raw, tmp):
    """backup_objects: mode byte, then an index, a footer, a WAL object or a snapshot object."""
    page_size = 512  # the seeds' database (main)
    image = snapshot["payload"]
    for name, offset, pages_per_block in (("at-0", 0, 1), ("with-chain", 0x1F60, 2)):
        blocks, index_frame, footer = snapshot_object(snapshot["gen"], snapshot["index"], offset,
                                                      image, page_size, pages_per_block, tmp)
        write("backup_objects", f"snapshot-index-{name}", b"\x00" + index_frame)
        write("backup_objects", f"snapshot-object-{name}", b"\x04" + blocks + index_frame + footer)
    write("backup_objects", "snapshot-footer", b"\x01" + footer)
    # WAL objects: runs of up to three contiguous segments of one index.
    runs, run = [], []
    for record, data in zip(wal, raw):
        if run and (record["index"] != run[-1][0]["index"] or
                    record["offset"] != run[-1][0]["offset"] + len(run[-1][1]) or len(run) == 3):
            runs.append(run)
            run = []
        run.append((record, data))
    runs.append(run)
    for i, run in enumerate(runs[:3]):
        first = run[0][0]
        obj = wal_object(first["gen"], first["index"],
                         [(r["offset"], len(d), r["payload"]) for r, d in run])
        write("backup_objects", f"wal-object-{i}", b"\x03" + obj)
        if i == 0:
            write("backup_objects", "wal-header", b"\x02" + obj)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/walstream"
    tmp = tempfile.mkdtemp(prefix="walstream-seeds-")
    db = os.path.join(tmp, "app.db")
    sql(db, "PRAGMA page_size=512; PRAGMA journal_mode=WAL;"
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
            "INSERT INTO t(v) VALUES ('one'), ('two');")
    log = open(os.path.join(tmp, "primary.log"), "w+")
    primary = subprocess.Popen([binary, "primary", "--http", "127.0.0.1:0", db],
                               stderr=log, stdout=log)
    try:
        port = None
        for _ in range(100):
            time.sleep(0.1)
            log.seek(0)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("primary did not start; log in " + log.name)

        def writes():
            for i in range(3):
                sql(db, f"INSERT INTO t(v) VALUES ('row {i}'), (hex(randomblob(40)));")
                time.sleep(0.2)
            sql(db, "UPDATE t SET v = v || '!' WHERE id % 2 = 0;")

        plain = fetch(port, "pos=&heartbeat=100", 2.5, writes)
        compressed = fetch(port, "pos=&compress=1", 1.5)
    finally:
        primary.terminate()
        primary.wait()

    for target in ("record_decoder", "stream_query", "wal_segment", "pos", "backup_objects"):
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)

    # record_decoder: options byte, chunking byte, body (record_decoder_fuzzer.cpp).
    write("record_decoder", "stream-plain", b"\x00\x00" + plain)
    write("record_decoder", "stream-plain-pieces", b"\x00\x35" + plain)
    write("record_decoder", "stream-all-chunked", b"\x06\x83" + plain)
    write("record_decoder", "stream-compressed-snapshot", b"\x00\x57" + compressed)
    # An index-end record (no payload) between a heartbeat and the next index's position.
    generation = next(records(plain))["gen"]
    index_end = HEADER.pack(4, 0, generation, 2, 0x3068, 0)
    heartbeat = HEADER.pack(3, 0, generation, 3, 0, 16) + struct.pack(">QII", 1, 2, 3)
    write("record_decoder", "index-end", b"\x00\x00" + heartbeat + index_end)
    recs = list(records(plain))
    wal = [r for r in recs if r["type"] == 2]
    snapshot_end = HEADER.size + len(recs[0]["payload"])
    write("record_decoder", "stream-without-snapshot", b"\x00\x12" + plain[snapshot_end:])

    # wal_segment: mode 0 (WAL at offset 0), 1 (chain state + offset), 2 (lz4 frame).
    if not wal:
        sys.exit("no WAL segments recorded")
    raw = [unlz4(r["payload"]) for r in wal]
    first = next(i for i, r in enumerate(wal) if r["offset"] == 0)
    write("wal_segment", "wal-offset-0", b"\x00" + raw[first])
    magic = struct.unpack(">I", raw[first][:4])[0]
    for i in range(first + 1, min(first + 3, len(wal))):
        prev = raw[i - 1]
        last_frame = prev[len(prev) - (512 + 24):]
        _, _, salt1, salt2, s0, s1 = struct.unpack(">6I", last_frame[:24])
        state = struct.pack(">B4IBQ", 0, salt1, salt2, s0, s1, magic & 1, wal[i]["offset"])
        write("wal_segment", f"wal-continued-{i}", b"\x01" + state + raw[i])
    write("wal_segment", "lz4-declared-room", b"\x02" + struct.pack(">I", 0x10000000) +
          wal[first]["payload"])
    write("wal_segment", "lz4-block-room", b"\x02" + struct.pack(">I", 0x28000000) +
          wal[-1]["payload"])
    write("wal_segment", "lz4-small-room", b"\x02" + struct.pack(">I", 0x00000400) +
          wal[-1]["payload"])

    backup_seeds(recs[0], wal, raw, tmp)

    # stream_query: served-databases byte, request target.
    gen = recs[0]["gen"]
    pos = f"{gen:016x}/{wal[-1]['index']:016x}:{wal[-1]['offset']:016x}"
    for name, data in {
        "resume": b"\x00/stream?pos=" + pos.encode() + b"&checksum=0123456789abcdef&heartbeat=1000"
        b"&index-ends=1",
        "snapshot-compressed": b"\x01/stream?db=app.db&pos=&compress=1&heartbeat=0",
        "older-spelling": f"\x01/stream?path=%2Fabs%2Fother.db&generation={gen:016x}&index=a"
                          .encode(),
        "escapes": b"\x01/stream?db=other+db%2B%25.db&compress=true&x=%41+",
        "status": b"\x00/status",
    }.items():
        write("stream_query", name, data)

    # pos: a position, and position file lines (client/replica_position.h).
    write("pos", "pos", pos.encode())
    write("pos", "hex", f"{gen:016x}".encode())
    write("pos", "line-chain-known", position_line(
        f"{pos} 00c0ffee12345678 a1b2c3d4e5f60718 512 le "
        f"local=0011223344556677:0000002a:8899aabbccddeeff").encode())
    write("pos", "line-after-snapshot", position_line(f"{pos} - - 4096 be local=-").encode())
    write("pos", "line-older-version", f"{pos} - - 65536 le\n".encode())
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
