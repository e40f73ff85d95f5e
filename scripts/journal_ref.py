#!/usr/bin/env python3
"""Reference writer and verifier for vaultgate journals (docs/journal.md), standard library only.

An independent implementation of the same specification, used by the interop tests (a journal
written here must verify in vaultgate and the other way round) and by the benchmark.

    journal_ref.py canon                      stdin: one JSON text per line; stdout: canonical
                                              bytes per line, or `ERROR <reason>`
    journal_ref.py append FILE --name N --status S [--step-id ID] [--inputs JSON]
                   [--outputs JSON] [--started-at T] [--completed-at T]
    journal_ref.py verify FILE                exit 0 valid, 1 invalid (prints `CODE line N`), 2 error
    journal_ref.py generate FILE COUNT [--style S]
                                              write COUNT records fast (benchmarks); with
                                              `--style default` each line is Python's default
                                              `json.dumps(record)` (spaces, insertion order),
                                              with `--style unicode` also `ensure_ascii=False`
                                              (raw UTF-8): hashes stay over the canonical bytes;
                                              a styled run prints `ok COUNT HEAD`
    journal_ref.py vectors                    stdin: JSON list of input texts; stdout: vectors file
"""

import argparse
import hashlib
import json
import math
import re
import sys
import uuid
from datetime import datetime, timezone

# Canonical integers are exact at any size; lift CPython's 4300-digit conversion guard.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

MAX_DEPTH = 128
KEYS = ["completed_at", "entry_hash", "inputs", "name", "outputs", "prev_hash",
        "started_at", "status", "step_id"]
TS = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z\Z", re.ASCII)
HASH = re.compile(r"\A[0-9a-f]{64}\Z")


class Refused(Exception):
    pass


def _pairs(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Refused(f"duplicate object key `{k}`")
        seen[k] = v
    return seen


def _constant(name):
    raise Refused(f"`{name}` is not JSON")


def _check(v, depth):
    if isinstance(v, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
            raise Refused("lone surrogate in `\\u` escape")
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise Refused("number is out of the range of a double")
    elif isinstance(v, (list, dict)):
        if depth + 1 > MAX_DEPTH:
            raise Refused(f"nesting deeper than {MAX_DEPTH} levels")
        items = v.items() if isinstance(v, dict) else enumerate(v)
        for k, x in items:
            if isinstance(k, str):
                _check(k, depth + 1)
            _check(x, depth + 1)


def parse(data: bytes):
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, no lone surrogates, depth <= 128."""
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    obj = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    _check(obj, 0)
    return obj


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def check_timestamp(s):
    m = TS.match(s)
    if not m:
        return False
    y, mo, d, h, mi, se = (int(g) for g in m.groups()[:6])
    if y < 1970:
        return False
    try:
        datetime(y, mo, d, h, mi, se)
    except ValueError:
        return False
    return True


def check_record(line: bytes):
    """Returns (code, message) or (None, record)."""
    try:
        rec = parse(line)
    except (ValueError, Refused, RecursionError) as e:
        return "journal-line-invalid", str(e)
    if not isinstance(rec, dict):
        return "journal-line-invalid", "not a JSON object"
    missing = [k for k in KEYS if k not in rec]
    if missing:
        return "journal-missing-key", f"missing {missing}"
    unknown = sorted(k for k in rec if k not in KEYS)
    if unknown:
        return "journal-unknown-key", f"unknown {unknown}"
    for k in ("step_id", "name", "status", "started_at", "entry_hash"):
        if not isinstance(rec[k], str):
            return "journal-wrong-type", f"{k} must be a string"
    for k in ("completed_at", "prev_hash"):
        if rec[k] is not None and not isinstance(rec[k], str):
            return "journal-wrong-type", f"{k} must be a string or null"
    for k in ("inputs", "outputs"):
        if not isinstance(rec[k], dict):
            return "journal-wrong-type", f"{k} must be an object"
    for k in ("step_id", "name", "status"):
        if rec[k] == "":
            return "journal-empty-value", f"{k} is empty"
    for k in ("started_at", "completed_at"):
        if rec[k] is not None and not check_timestamp(rec[k]):
            return "journal-bad-timestamp", f"{k} is {rec[k]!r}"
    for k in ("entry_hash", "prev_hash"):
        if rec[k] is not None and not HASH.match(rec[k]):
            return "journal-bad-hash-format", f"{k} is {rec[k]!r}"
    if canonical(rec) != line:
        return "journal-not-canonical", "not canonical"
    body = {k: v for k, v in rec.items() if k != "entry_hash"}
    if hashlib.sha256(canonical(body)).hexdigest() != rec["entry_hash"]:
        return "journal-hash-mismatch", "entry_hash mismatch"
    return None, rec


def verify_lines(lines):
    """`lines`: an iterable of byte lines, each with its `\n` except perhaps the last.
    Returns (findings, seen, head, count): findings is a list of (code, line, offset) and
    seen maps step_id -> line."""
    findings, seen = [], {}
    offset, prev, head, count = 0, "start", None, 0
    pending = None
    def check(i, raw, offset, is_last):
        nonlocal prev, head, count
        if not raw.endswith(b"\n"):
            findings.append(("journal-torn-tail", i, offset))
            return
        code, rec = check_record(raw[:-1])
        if code == "journal-line-invalid" and is_last:
            findings.append(("journal-torn-tail", i, offset))
            return
        count += 1
        if code:
            findings.append((code, i, offset))
            prev, head = "unknown", None
            return
        if prev == "start" and rec["prev_hash"] is not None:
            findings.append(("journal-chain-broken", i, offset))
        elif prev not in ("start", "unknown") and rec["prev_hash"] != prev:
            findings.append(("journal-chain-broken", i, offset))
        if rec["step_id"] in seen:
            findings.append(("journal-duplicate-step-id", i, offset))
        else:
            seen[rec["step_id"]] = i
        prev = head = rec["entry_hash"]
    i = 0
    for raw in lines:
        if pending is not None:
            check(i, pending, offset, False)
            offset += len(pending)
        pending = raw
        i += 1
    if pending is not None:
        check(i, pending, offset, True)
    return findings, seen, head, count


def verify(data: bytes):
    return verify_lines(_split_nl(data))


def _split_nl(data):
    # The format splits at b"\n" only (bytes.splitlines would also split at \r).
    parts = data.split(b"\n")
    out = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def make_record(step, prev_hash):
    rec = dict(step)
    rec["prev_hash"] = prev_hash
    rec["entry_hash"] = hashlib.sha256(canonical(rec)).hexdigest()
    return rec


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_append(a):
    try:
        with open(a.file, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = b""
    findings, seen, head, _count = verify(data)
    if findings:
        print(f"refusing: {findings[0][0]} line {findings[0][1]}", file=sys.stderr)
        return 1
    step = {
        "step_id": a.step_id or str(uuid.uuid4()),
        "name": a.name,
        "status": a.status,
        "started_at": a.started_at or now(),
        "completed_at": a.completed_at,
        "inputs": parse(a.inputs.encode()) if a.inputs else {},
        "outputs": parse(a.outputs.encode()) if a.outputs else {},
    }
    if step["step_id"] in seen:
        print("refusing: journal-duplicate-step-id", file=sys.stderr)
        return 1
    rec = make_record(step, head)
    code, _ = check_record(canonical(rec))
    if code:
        print(f"refusing: the new record would be invalid: {code}", file=sys.stderr)
        return 2
    with open(a.file, "ab") as f:
        f.write(canonical(rec) + b"\n")
    print(rec["entry_hash"])
    return 0


def cmd_verify(a):
    with open(a.file, "rb") as f:
        # Iterating a binary file splits at b"\n" only and streams.
        findings, _seen, head, count = verify_lines(f)
    for code, line, offset in findings:
        print(f"{code} line {line} offset {offset}")
    if findings:
        return 1
    print(f"ok {count} {head or 'none'}")
    return 0


def spell(rec, style):
    """A record's line in `style`: canonical, or as an ordinary Python program writes it."""
    if style == "canonical":
        return canonical(rec)
    if style == "default":
        return json.dumps(rec).encode("ascii")
    return json.dumps(rec, ensure_ascii=False).encode("utf-8")


def cmd_generate(a):
    prev = None
    styled = a.style != "canonical"
    with open(a.file, "wb") as f:
        for i in range(a.count):
            step = {
                "step_id": f"step-{i:08d}",
                "name": "compile" if i % 3 else "test",
                "status": "ok",
                "started_at": "2026-01-02T03:04:05Z",
                "completed_at": "2026-01-02T03:04:06.250Z" if i % 2 else None,
                "inputs": {"target": "x86_64-unknown-linux-gnu", "n": i, "ratio": i / 7},
                "outputs": {"artifact": f"dist/app-{i}.zip", "ok": True},
            }
            if styled:
                step["outputs"]["label"] = f"caf\u00e9 \u2615 \U0001F600 #{i}"
                step["inputs"]["quote"] = 'say "hi"\tnow'
            rec = make_record(step, prev)
            prev = rec["entry_hash"]
            f.write(spell(rec, a.style) + b"\n")
    if styled:
        print(f"ok {a.count} {prev or 'none'}")
    return 0


def cmd_canon(_a):
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer.read().split(b"\n"):
        if not raw:
            continue
        try:
            out.write(canonical(parse(raw)) + b"\n")
        except (ValueError, Refused, RecursionError) as e:
            out.write(b"ERROR " + str(e).encode("ascii", "backslashreplace") + b"\n")
    return 0


def cmd_vectors(_a):
    inputs = json.loads(sys.stdin.read())
    vectors = []
    for text in inputs:
        try:
            vectors.append({"input": text, "canonical": canonical(parse(text.encode("utf-8"))).decode("ascii")})
        except (ValueError, Refused, RecursionError):
            vectors.append({"input": text, "canonical": None})
    json.dump({"generator": "scripts/journal_ref.py vectors (CPython " + sys.version.split()[0] + ")",
               "vectors": vectors}, sys.stdout, indent=1, ensure_ascii=True)
    sys.stdout.write("\n")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    ap = sub.add_parser("append")
    ap.add_argument("file")
    ap.add_argument("--name", required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--step-id")
    ap.add_argument("--inputs")
    ap.add_argument("--outputs")
    ap.add_argument("--started-at")
    ap.add_argument("--completed-at")
    vp = sub.add_parser("verify")
    vp.add_argument("file")
    gp = sub.add_parser("generate")
    gp.add_argument("file")
    gp.add_argument("count", type=int)
    gp.add_argument("--style", choices=["canonical", "default", "unicode"], default="canonical")
    sub.add_parser("canon")
    sub.add_parser("vectors")
    a = p.parse_args()
    return {"append": cmd_append, "verify": cmd_verify, "generate": cmd_generate,
            "canon": cmd_canon, "vectors": cmd_vectors}[a.cmd](a)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, Refused) as e:
        print(f"journal_ref.py: error: {e}", file=sys.stderr)
        sys.exit(2)
