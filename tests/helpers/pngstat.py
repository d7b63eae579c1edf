#!/usr/bin/python3
"""pngstat.py FILE: a PNG's width, height and ink, on one line: ink is the
share (per mille) of the bytes of its decompressed image data, row filter
bytes aside, that are not 0. A page of one colour filters to zeros (each
byte predicted by its neighbour), so a blank screenshot has an ink of 0 and
a rendered page of text, tables and charts far more. Standard library only.
Exits 1 for a file that is not a PNG."""
import struct
import sys
import zlib


def main(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return 1
    at, ihdr, idat = 8, None, []
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat.append(body)
        at += 12 + length
    if ihdr is None or not idat:
        return 1
    width, height = struct.unpack(">II", ihdr[:8])
    raw = zlib.decompress(b"".join(idat))
    stride = len(raw) // height
    nonzero = len(raw) - raw.count(0)
    # each row starts with its filter type, mostly not 0: leave them out
    nonzero -= sum(1 for y in range(height) if raw[y * stride])
    print(width, height, nonzero * 1000 // max(1, len(raw) - height))
    return 0


sys.exit(main(sys.argv[1]))
