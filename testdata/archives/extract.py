#!/usr/bin/env python3
"""Rebuild (or check) the torture-test golden files from the RFC archives.

The two *.b64 files beside this script are the base64 text of the
"-- BEGIN MESSAGE ARCHIVE --" blocks of RFC 4475 Appendix A.1 and
RFC 5118 Appendix A.1, with the page furniture and indentation removed.
Each decodes to a gzip-compressed tar archive; gzip's CRC-32 and length
trailer prove the transcription is bit-exact.

    python3 testdata/archives/extract.py          # write testdata/rfc4475, testdata/rfc5118
    python3 testdata/archives/extract.py --check  # verify the files on disk, write nothing

RFC 4475 members are copied byte for byte (they are already CRLF wire bytes).
RFC 5118 members are LF-terminated in the archive; they are converted to
wire form (see README.md): LF -> CRLF, a missing empty line after the header
section is added, and Content-Length is set to the real body length.
Python 3 standard library only.
"""

import base64
import gzip
import io
import re
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTDATA = HERE.parent

# RFC 4475 section 3.1.1 (valid) and 3.1.2 (invalid) only.
RFC4475_NAMES = (
    "wsinv intmeth esc01 escnull esc02 lwsdisp longreq dblreq semiuri "
    "transports mpart01 unreason noreason "
    "badinv01 clerr ncl scalar02 scalarlg quotbal ltgtruri lwsruri lwsstart "
    "trws escruri baddate regbadct badaspec baddn badvers mismatch01 "
    "mismatch02 bigcode"
).split()

RFC5118_NAMES = (
    "ipv6-good ipv6-bad port-ambiguous port-unambiguous "
    "via-received-param-with-delim via-received-param-no-delim ipv6-in-sdp "
    "mult-ip-in-header mult-ip-in-sdp ipv4-mapped-ipv6 "
    "ipv6-bug-abnf-3-colons ipv6-correct-abnf-2-colons"
).split()


def members(b64_file):
    raw = base64.b64decode("".join(b64_file.read_text().split()))
    tar_bytes = gzip.decompress(raw)  # raises if CRC-32 / length do not match
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for m in tar.getmembers():
            if m.isfile():
                name = Path(m.name).name
                if name.endswith(".dat"):
                    name = name[: -len(".dat")]
                out[name] = tar.extractfile(m).read()
    return out


def rfc5118_wire(archived):
    """LF -> CRLF, terminate the header section, fix Content-Length."""
    assert b"\r" not in archived
    msg = archived.replace(b"\n", b"\r\n")
    if b"\r\n\r\n" not in msg:
        msg += b"\r\n"  # the two section 4.10 files stop after the last header line
    head, body = msg.split(b"\r\n\r\n", 1)
    head, n = re.subn(
        rb"(?im)^(Content-Length:[ \t]*)\d+$",
        lambda m: m.group(1) + str(len(body)).encode(),
        head,
    )
    assert n == 1
    return head + b"\r\n\r\n" + body


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] and not check:
        sys.exit("usage: extract.py [--check]")

    wanted = {}
    m4475 = members(HERE / "rfc4475-appendix-a.b64")
    for name in RFC4475_NAMES:
        wanted[TESTDATA / "rfc4475" / (name + ".dat")] = m4475[name]
    m5118 = members(HERE / "rfc5118-appendix-a.b64")
    assert sorted(m5118) == sorted(RFC5118_NAMES), sorted(m5118)
    for name in RFC5118_NAMES:
        wanted[TESTDATA / "rfc5118" / (name + ".dat")] = rfc5118_wire(m5118[name])

    bad = 0
    for path, data in wanted.items():
        if check:
            if not path.exists() or path.read_bytes() != data:
                print("DIFFERS:", path.relative_to(TESTDATA))
                bad += 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    verb = "checked" if check else "wrote"
    print(f"{verb} {len(wanted)} files, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
