#!/usr/bin/env python3
"""zipcheck.py: a Python `zipfile` peer of `vaultgate zip audit`, used as a benchmark baseline.

Checks every name in the central directory (empty, absolute, drive, UNC, backslash, `..`/`.`/empty
components, control characters, Windows device names, trailing dot/space, colon, length, exact
and case-insensitive duplicates) and then reads every entry with `ZipFile.testzip()` (CRC check).
Exit codes: 0 clean, 1 findings, 2 could not run.  Usage: zipcheck.py BUNDLE.zip
"""
import sys
import unicodedata
import zipfile

RESERVED = {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}


def name_problems(name):
    if not name:
        return ["empty name"]
    out = []
    if name.startswith("/"):
        out.append("absolute")
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        out.append("drive")
    if "\\" in name:
        out.append("backslash")
    if ":" in name[2:]:
        out.append("colon")
    if any(unicodedata.category(c) == "Cc" for c in name):
        out.append("control character")
    if len(name.encode()) > 1024:
        out.append("too long")
    body = name[:-1] if name.endswith("/") else name
    for comp in body.lstrip("/").split("/"):
        if comp in ("", "."):
            out.append("empty or dot component")
        elif comp == "..":
            out.append("traversal")
        else:
            if comp.split(".")[0].rstrip(" ").lower() in RESERVED:
                out.append("windows device name")
            if comp.endswith((".", " ")):
                out.append("trailing dot or space")
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: zipcheck.py BUNDLE.zip", file=sys.stderr)
        return 2
    try:
        zf = zipfile.ZipFile(argv[1])
    except zipfile.BadZipFile as e:
        print(f"not a valid zip: {e}")
        return 1
    except OSError as e:
        print(f"cannot open: {e}", file=sys.stderr)
        return 2
    findings = 0
    seen = {}
    with zf:
        for i, info in enumerate(zf.infolist()):
            for p in name_problems(info.filename):
                print(f"#{i} {info.filename!r}: {p}")
                findings += 1
            key = unicodedata.normalize("NFC", info.filename.rstrip("/")).casefold()
            if key in seen:
                print(f"#{i} {info.filename!r}: collides with #{seen[key]}")
                findings += 1
            seen.setdefault(key, i)
            if info.flag_bits & 1:
                print(f"#{i} {info.filename!r}: encrypted")
                findings += 1
        try:
            bad = zf.testzip()
        except Exception as e:  # corrupt data, unsupported method
            print(f"testzip failed: {e}")
            return 1
        if bad is not None:
            print(f"{bad!r}: bad crc")
            findings += 1
    print(f"{'FAIL' if findings else 'PASS'} {len(zf.infolist())} entries, {findings} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
