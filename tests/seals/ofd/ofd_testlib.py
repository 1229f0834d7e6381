"""Building OFD packages for the tests: the ofdrw fixtures with files changed, added or
removed, and raw zip files with any name, flag or size a hostile writer could choose."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

from seals_testlib import Pki

from seals import sm2
from seals.ofd.names import NS, SM2_SM3_OID, SM3_OID
from seals.seal import sign_data
from seals.ses import Seal, SealSignature

OFDRW = Path(__file__).resolve().parents[2] / "data" / "interop" / "ofdrw"
TODAY = datetime(2026, 12, 4, tzinfo=UTC)
"""A pinned 'today', after every ofdrw certificate has expired."""


def fixture(name: str) -> bytes:
    return (OFDRW / name).read_bytes()


def files_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def rezip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A package of these files, written by :mod:`zipfile` (deflate, or ``method``)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def changed(base: str, edits: dict[str, bytes | None]) -> bytes:
    """The fixture ``base`` with files replaced, added (a new name) or removed (None)."""
    files = files_of(fixture(base))
    for name, value in edits.items():
        if value is None:
            files.pop(name)
        else:
            files[name] = value
    return rezip(files)


def raw_zip(
    entries: list[tuple[bytes, bytes]], *, flags: int = 0x800, method: int = 8,
    declared: int | None = None, extra: bytes = b"", local_name: bytes | None = None,
    comment: bytes = b"",
) -> bytes:
    """A zip written byte by byte: (name, content) entries, every header as given."""
    body = bytearray()
    central = bytearray()
    for name, content in entries:
        packed = zlib.compress(content, 9)[2:-4] if method == 8 else content
        size = len(content) if declared is None else declared
        crc = zlib.crc32(content)
        offset = len(body)
        lname = name if local_name is None else local_name
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0, crc,
                            len(packed), size, len(lname), len(extra)) + lname + extra + packed
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method, 0,
                               0, crc, len(packed), size, len(name), len(extra), 0, 0, 0, 0,
                               offset) + name + extra
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                      len(central), len(body), len(comment)) + comment
    return bytes(body + central + end)


def sign_into(
    files: dict[str, bytes], pki: Pki, seal: Seal, covered: list[str], *, folder: str,
    at: datetime, stamp: str = '<ofd:StampAnnot ID="9" PageRef="1" Boundary="10 10 30 30"/>',
    signatures: str = "Doc_0/Signs/Signatures.xml",
) -> None:
    """A further signature written into ``files`` the way OFD writers do (a test signer, not
    the project's writer): ``folder``/Signature.xml with an SM3 reference per covered file,
    ``folder``/SignedValue.dat a v4 SES_Signature over the Signature.xml bytes, listed in
    ``signatures``."""
    refs = "".join(
        f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>'
        f"{base64.b64encode(sm2.sm3(files[name])).decode()}</ofd:CheckValue></ofd:Reference>"
        for name in covered
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature xmlns:ofd="'
        f'{NS}"><ofd:SignedInfo><ofd:Provider ProviderName="tests"/>'
        f"<ofd:SignatureMethod>{SM2_SM3_OID}</ofd:SignatureMethod>"
        f'<ofd:References CheckMethod="{SM3_OID}">{refs}</ofd:References>{stamp}'
        f"</ofd:SignedInfo><ofd:SignedValue>/{folder}/SignedValue.dat</ofd:SignedValue>"
        "</ofd:Signature>"
    ).encode()
    signed = sign_data(seal, pki.signer.signer, pki.signer.certificate, xml,
                       f"/{folder}/Signature.xml", at=at)
    files[f"{folder}/Signature.xml"] = xml
    files[f"{folder}/SignedValue.dat"] = signed.der
    listed = files[signatures]
    n = listed.count(b"<ofd:Signature ") + 1
    files[signatures] = listed.replace(
        b"</ofd:Signatures>",
        f'<ofd:Signature ID="{n}" BaseLoc="/{folder}/Signature.xml"/></ofd:Signatures>'.encode(),
    )


def assert_openssl_verifies(value: SealSignature, openssl: str, tmp_path: Path) -> None:
    """OpenSSL (the reference peer) checks the SM2 signature of an ``SES_Signature`` over its
    DER TBS_Sign with the signer certificate's key (ID 1234567812345678), and refuses the
    TBS_Sign with one byte flipped."""
    (tmp_path / "signer.der").write_bytes(value.signer_certificate)
    subprocess.run([openssl, "x509", "-inform", "DER", "-in", str(tmp_path / "signer.der"),
                    "-noout", "-pubkey", "-out", str(tmp_path / "pub.pem")], check=True)
    (tmp_path / "sig.der").write_bytes(value.signature)

    def verify(tbs: bytes) -> subprocess.CompletedProcess[bytes]:
        (tmp_path / "tbs.der").write_bytes(tbs)
        return subprocess.run(
            [openssl, "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey",
             str(tmp_path / "pub.pem"), "-in", str(tmp_path / "tbs.der"), "-sigfile",
             str(tmp_path / "sig.der"), "-pkeyopt", "distid:1234567812345678"],
            capture_output=True, check=False,
        )

    good = verify(value.tbs_der)
    assert good.returncode == 0 and b"Signature Verified Successfully" in good.stdout
    flipped = bytearray(value.tbs_der)
    flipped[-40] ^= 1
    assert verify(bytes(flipped)).returncode != 0
