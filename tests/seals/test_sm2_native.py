"""The native SM2 backend (``seals._sm2p256``, C): known answers, edge cases, and cross-checks.

Peers: OpenSSL's libcrypto (``sm2.get_backend("libcrypto")``), the ``openssl`` CLI, and a small
pure-Python reference of the curve arithmetic below (slow, obviously correct, used for the
crafted cases). Random cases come from seeded generators, so a failure reproduces.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from seals_testlib import VECTORS

from seals import _sm2p256 as c_sm2
from seals import sm2
from seals.errors import Sm2BadKey, Sm2BadSignature

ANNEX_A = json.loads((VECTORS / "sm2_annex_a.json").read_text())
N, P = sm2.N, sm2.P
DEFAULT_ID = sm2.DEFAULT_ID

# ------------------------------------------------------------- pure-Python reference

Point = tuple[int, int] | None  # None is the point at infinity
G: Point = (sm2.GX, sm2.GY)


def ec_add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = (3 * x1 * x1 + sm2.A) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def ec_mul(k: int, point: Point) -> Point:
    result: Point = None
    addend = point
    k %= N
    while k:
        if k & 1:
            result = ec_add(result, addend)
        addend = ec_add(addend, addend)
        k >>= 1
    return result


def ec_neg(point: Point) -> Point:
    return None if point is None else (point[0], (-point[1]) % P)


def ref_sign(d: int, e: int, k: int) -> tuple[int, int] | None:
    """GB/T 32918.2 signing, straight from the standard (None: this k is rejected)."""
    kg = ec_mul(k, G)
    assert kg is not None
    r = (e + kg[0]) % N
    if r == 0 or r + k == N:
        return None
    s = pow(1 + d, -1, N) * (k - r * d) % N
    return None if s == 0 else (r, s)


def b32(v: int) -> bytes:
    return v.to_bytes(32, "big")


def xy(point: Point) -> bytes:
    assert point is not None
    return b32(point[0]) + b32(point[1])


def uncompressed(point: Point) -> bytes:
    return b"\x04" + xy(point)


def c_key(point: Point, *, table: bool) -> c_sm2.PublicKey:
    key = c_sm2.PublicKey(xy(point))
    if table:
        key.precompute()
    return key


def crafted_digest(point: Point, r: int, s: int) -> int | None:
    """The digest e for which (r, s) verifies under ``point`` (None: the sum is infinity).

    Verification only needs (e + x1) mod n == r, so any (r, s) is valid for a suitable e;
    this reaches the exceptional cases of the point arithmetic on purpose.
    """
    t = (r + s) % N
    total = ec_add(ec_mul(s, G), ec_mul(t, point))
    if total is None:
        return None
    return (r - total[0]) % N


@pytest.fixture(scope="module")
def native() -> sm2.NativeBackend:
    backend = sm2.get_backend("native")
    assert isinstance(backend, sm2.NativeBackend)
    return backend


@pytest.fixture(scope="module")
def libcrypto() -> sm2.Sm2Backend:
    return sm2.get_backend("libcrypto")


# ------------------------------------------------------------------------- the build


def test_native_backend_is_built_and_default() -> None:
    """CI fails here if the extension silently did not build."""
    assert c_sm2.__file__ is not None and not c_sm2.__file__.endswith(".py")
    assert sm2.available_backends()[0].name == "native"
    assert isinstance(sm2.default_backend(), sm2.NativeBackend)
    assert sm2.generate_private_key().backend.name == "native"


# ---------------------------------------------------------------- known-answer test


def test_annex_a_known_answer_exact() -> None:
    """GB/T 32918.5 Annex A / GM/T 0003.5 example with its fixed k: exact r and s."""
    d = int(ANNEX_A["private_key"], 16)
    point = c_sm2.derive_point(b32(d))
    assert point.hex().upper() == ANNEX_A["public_x"] + ANNEX_A["public_y"]
    z = sm2.z_value(b"\x04" + point, ANNEX_A["id_ascii"].encode())
    e = sm2.sm3(z + ANNEX_A["message_ascii"].encode())
    assert e.hex().upper() == ANNEX_A["e"]
    dinv = c_sm2.sign_setup(b32(d))
    assert int.from_bytes(dinv, "big") == pow(1 + d, -1, N)
    result = c_sm2.sign_with_k(dinv, e, bytes.fromhex(ANNEX_A["k"]))
    assert result is not None
    r, s = result
    assert r.hex().upper() == ANNEX_A["r"]
    assert s.hex().upper() == ANNEX_A["s"]
    assert ref_sign(d, int(ANNEX_A["e"], 16), int(ANNEX_A["k"], 16)) == (
        int(ANNEX_A["r"], 16),
        int(ANNEX_A["s"], 16),
    )
    public = (int(ANNEX_A["public_x"], 16), int(ANNEX_A["public_y"], 16))
    for table in (False, True):
        assert c_key(public, table=table).verify(e, r, s)


def test_annex_a_signature_confirmed_by_openssl(
    libcrypto: sm2.Sm2Backend, openssl: str, tmp_path: Path
) -> None:
    """OpenSSL accepts the expected (r, s) with the vector's ID, 1234567812345678.

    (The same vector is sometimes quoted with the ID ALICE123@YAHOO.COM: that ID belongs to
    the example on the test curve of the draft, not to sm2p256v1; OpenSSL rejects it here.)
    """
    from seals.keys import public_key_to_pem

    pub = sm2.Sm2PublicKey.from_point(
        bytes.fromhex("04" + ANNEX_A["public_x"] + ANNEX_A["public_y"]), libcrypto
    )
    sig = sm2.encode_signature(int(ANNEX_A["r"], 16), int(ANNEX_A["s"], 16))
    msg = ANNEX_A["message_ascii"].encode()
    pub.verify(msg, sig, signer_id=ANNEX_A["id_ascii"].encode())
    with pytest.raises(Sm2BadSignature):
        pub.verify(msg, sig, signer_id=b"ALICE123@YAHOO.COM")
    (tmp_path / "pub.pem").write_bytes(public_key_to_pem(pub))
    (tmp_path / "msg").write_bytes(msg)
    (tmp_path / "sig").write_bytes(sig)
    assert _openssl_verify(openssl, tmp_path, ANNEX_A["id_ascii"]) is True


# ---------------------------------------------------------- agreement with OpenSSL


def test_derive_point_agrees_with_libcrypto(
    native: sm2.NativeBackend, libcrypto: sm2.Sm2Backend
) -> None:
    rng = random.Random(20260501)
    scalars = [1, 2, 3, 4, 63, 64, 65, N - 1, N - 2, N - 3, 2**255, 2**128 + 1, 2**64, 2**192]
    scalars += [2**256 - 1 - N, (N - 1) // 2, (N + 1) // 2, 0x7F << 249]
    scalars += [rng.randrange(1, N) for _ in range(100)]
    for d in scalars:
        assert native.derive_point(d) == libcrypto.derive_point(d), hex(d)
    for d in scalars[:20]:
        assert native.derive_point(d) == uncompressed(ec_mul(d, G)), hex(d)


def test_derive_point_rejects_out_of_range(native: sm2.NativeBackend) -> None:
    for d in (0, N, N + 1, 2**256 - 1):
        with pytest.raises(ValueError):
            c_sm2.derive_point(d.to_bytes(32, "big"))
    for d in (0, N):
        with pytest.raises(Sm2BadKey):
            native.derive_point(d)
    with pytest.raises(ValueError):
        c_sm2.derive_point(b"\x01" * 31)
    with pytest.raises(TypeError):
        c_sm2.derive_point(bytearray(32))  # type: ignore[arg-type]


def test_cross_signatures_with_libcrypto(
    native: sm2.NativeBackend, libcrypto: sm2.Sm2Backend
) -> None:
    """A few hundred random keys and messages, both directions, both verification paths."""
    rng = random.Random(7)
    ids = [DEFAULT_ID, b"", b"ALICE123@YAHOO.COM", bytes(range(40))]
    for i in range(300):
        d = rng.randrange(1, N - 1)
        msg = rng.randbytes(rng.choice([0, 1, 20, 55, 56, 64, 200, 1000]))
        signer_id = ids[i % len(ids)]
        ours = sm2.Sm2PrivateKey.from_secret(d, backend=native)
        theirs = ours.with_backend(libcrypto)
        table = i % 2 == 1
        if table:
            ours.public_key._handle.key.precompute()
        assert theirs.public_key.point == ours.public_key.point
        sig_native = ours.sign(msg, signer_id=signer_id)
        sig_openssl = theirs.sign(msg, signer_id=signer_id)
        theirs.public_key.verify(msg, sig_native, signer_id=signer_id)
        ours.public_key.verify(msg, sig_openssl, signer_id=signer_id)
        ours.public_key.verify(msg, sig_native, signer_id=signer_id)
        assert ours.public_key._handle.key.precomputed == table
        if i % 10 == 0:
            with pytest.raises(Sm2BadSignature):
                theirs.public_key.verify(msg + b"!", sig_native, signer_id=signer_id)
            with pytest.raises(Sm2BadSignature):
                ours.public_key.verify(msg + b"!", sig_openssl, signer_id=signer_id)


def _openssl_verify(openssl: str, where: Path, distid: str) -> bool:
    done = subprocess.run(
        [
            openssl,
            "pkeyutl",
            "-verify",
            "-rawin",
            "-digest",
            "sm3",
            "-pubin",
            "-inkey",
            str(where / "pub.pem"),
            "-in",
            str(where / "msg"),
            "-sigfile",
            str(where / "sig"),
            "-pkeyopt",
            f"distid:{distid}",
        ],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0 and b"Signature Verified Successfully" in done.stdout


def test_openssl_cli_peer(native: sm2.NativeBackend, openssl: str, tmp_path: Path) -> None:
    """The openssl CLI verifies native signatures; native verifies the CLI's."""
    from seals.keys import load_private_key, public_key_to_pem

    rng = random.Random(11)
    for i in range(6):
        key = sm2.Sm2PrivateKey.from_secret(rng.randrange(1, N - 1), backend=native)
        msg = rng.randbytes(100 * i)
        signer_id = "1234567812345678" if i % 2 == 0 else f"signer-{i}@example.cn"
        (tmp_path / "pub.pem").write_bytes(public_key_to_pem(key.public_key))
        (tmp_path / "msg").write_bytes(msg)
        (tmp_path / "sig").write_bytes(key.sign(msg, signer_id=signer_id.encode()))
        assert _openssl_verify(openssl, tmp_path, signer_id)
        assert not _openssl_verify(openssl, tmp_path, signer_id + "x")
    for i in range(3):
        pem = tmp_path / f"k{i}.pem"
        subprocess.run(
            [openssl, "genpkey", "-algorithm", "SM2", "-out", str(pem)],
            check=True,
            capture_output=True,
        )
        msg = rng.randbytes(333)
        (tmp_path / "msg").write_bytes(msg)
        subprocess.run(
            [
                *(openssl, "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", str(pem)),
                *("-in", str(tmp_path / "msg"), "-out", str(tmp_path / "sig")),
                *("-pkeyopt", "distid:1234567812345678"),
            ],
            check=True,
            capture_output=True,
        )
        key = load_private_key(pem.read_bytes(), backend=native)
        assert key.backend is native
        key.public_key.verify(msg, (tmp_path / "sig").read_bytes())
        with pytest.raises(Sm2BadSignature):
            key.public_key.verify(msg, (tmp_path / "sig").read_bytes(), signer_id=b"")


# -------------------------------------------------------------- rejections, negatives


def _signed(rng: random.Random) -> tuple[int, bytes, tuple[int, int]]:
    d = rng.randrange(1, N - 1)
    e = rng.randrange(2**256)
    while True:
        got = c_sm2.sign(c_sm2.sign_setup(b32(d)), b32(e), rng.randbytes(64))
        if got is not None:
            r, s = (int.from_bytes(v, "big") for v in got)
            return d, b32(e), (r, s)


@pytest.mark.parametrize("table", [False, True], ids=["first-use", "table"])
def test_c_verify_rejections(table: bool) -> None:
    rng = random.Random(3 + table)
    for _ in range(20):
        d, e, (r, s) = _signed(rng)
        point = ec_mul(d, G)
        key = c_key(point, table=table)
        assert key.verify(e, b32(r), b32(s))
        bit = 1 << rng.randrange(256)
        assert not key.verify(b32(int.from_bytes(e, "big") ^ bit), b32(r), b32(s))
        assert not key.verify(e, b32(r ^ bit), b32(s))
        assert not key.verify(e, b32(r), b32(s ^ bit))
        for rr, ss in (
            (0, s),
            (r, 0),
            (N, s),
            (r, N),
            (r + N, s) if r + N < 2**256 else (N + 1, s),
            (r, s + N) if s + N < 2**256 else (r, N + 1),
            (2**256 - 1, s),
            (r, 2**256 - 1),
            (r, N - r),  # r + s = n: t = 0
        ):
            assert not key.verify(e, b32(rr), b32(ss)), (rr, ss)
        other = c_key(ec_mul(d + 1, G), table=table)
        assert not other.verify(e, b32(r), b32(s))
        # still valid: the key's state is not disturbed by the failures
        assert key.verify(e, b32(r), b32(s))


def _point_with_small_x() -> tuple[int, int]:
    """A curve point whose x is below 2^256 - p, so that x + p still fits in 32 bytes."""
    x = 1
    while True:
        rhs = (x**3 + sm2.A * x + sm2.B) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return x, y
        x += 1


def test_point_validation(native: sm2.NativeBackend) -> None:
    assert G is not None
    gx, gy = G
    x0, y0 = _point_with_small_x()
    assert x0 + P < 2**256
    c_sm2.PublicKey(b32(x0) + b32(y0))  # on the curve
    for bad in (
        b32(gx) + b32((gy + 1) % P),  # off the curve
        b32(0) + b32(0),
        b32(x0 + P) + b32(y0),  # x not reduced mod p (x0 + p is "on the curve" mod p)
        b32(P) + b32(gy),
        b32(gx) + b32(P),
        b"\xff" * 64,
    ):
        with pytest.raises(ValueError):
            c_sm2.PublicKey(bad)
    with pytest.raises(ValueError):
        c_sm2.PublicKey(b"\x04" + xy(G))
    with pytest.raises(Sm2BadKey):
        native.public_handle(b"\x04" + b32(gx) + b32((gy + 1) % P))
    assert c_sm2.PublicKey(xy(G)).point == xy(G)


def test_wrong_key_and_wrong_id_rejected(native: sm2.NativeBackend) -> None:
    key = sm2.generate_private_key(native)
    other = sm2.generate_private_key(native)
    msg = b"zhengyin"
    sig = key.sign(msg, signer_id=b"A")
    for i in range(2):  # without the table, then with it
        if i:
            key.public_key._handle.key.precompute()
        key.public_key.verify(msg, sig, signer_id=b"A")
        with pytest.raises(Sm2BadSignature):
            key.public_key.verify(msg, sig, signer_id=b"B")
        with pytest.raises(Sm2BadSignature):
            key.public_key.verify(msg, sig)
        with pytest.raises(Sm2BadSignature):
            other.public_key.verify(msg, sig, signer_id=b"A")
    assert native.verify(key.public_key._handle, msg, sig, b"A")
    assert not native.verify(key.public_key._handle, msg, sig[:-1], b"A")
    assert not native.verify(key.public_key._handle, msg, b"", b"A")


# ------------------------------------------------------- exceptional points and keys


def test_key_d_1_is_g_and_signs(native: sm2.NativeBackend, libcrypto: sm2.Sm2Backend) -> None:
    key = sm2.Sm2PrivateKey.from_secret(1, backend=native)
    assert key.public_key.point == uncompressed(G)
    for msg in (b"", b"a", b"zhengyin" * 50):
        sig = key.sign(msg)
        for _ in range(10):  # the table is built on the 8th
            key.public_key.verify(msg, sig)
        key.public_key.with_backend(libcrypto).verify(msg, sig)
    key_n2 = sm2.Sm2PrivateKey.from_secret(N - 2, backend=native)  # P = -2G, largest legal d
    assert key_n2.public_key.point == uncompressed(ec_neg(ec_mul(2, G)))
    sig = key_n2.sign(b"x")
    key_n2.public_key.verify(b"x", sig)
    key_n2.public_key.with_backend(libcrypto).verify(b"x", sig)


def test_key_d_n_minus_1_cannot_sign(native: sm2.NativeBackend) -> None:
    """d = n-1 (P = -G): 1 + d = n has no inverse, so GB/T 32918 excludes it from keys."""
    assert native.derive_point(N - 1) == uncompressed(ec_neg(G))
    with pytest.raises(ValueError):
        c_sm2.sign_setup(b32(N - 1))
    with pytest.raises(Sm2BadKey):
        native.private_handle(N - 1, uncompressed(ec_neg(G)))
    with pytest.raises(Sm2BadKey):
        sm2.Sm2PrivateKey.from_secret(N - 1, backend=native)


@pytest.mark.parametrize("table", [False, True], ids=["first-use", "table"])
def test_exceptional_sums_in_verification(table: bool) -> None:
    """s·G + t·P where partial sums meet: doubling, P + (-P), and a result at infinity.

    With P = ±G and small s, the additions inside the multiplication meet equal or opposite
    points; the complete formulas must get all of them right.
    """
    rng = random.Random(5 + table)
    g, minus_g = G, ec_neg(G)
    cases: list[tuple[Point, int, int]] = []
    for small in (1, 2, 5, 31, 32, 33, 63, 64):
        m = rng.randrange(1, 2**200)
        # P = G, t = 64m + small has low digit `small` (w = 6) = s: acc s·G meets small·G
        cases.append((g, 64 * m, small))
        # P = -G: s·G meets small·(-G) -> infinity in the middle
        cases.append((minus_g, 64 * m, small))
        # P = -G, r = -2s: s·G + t·(-G) = 2s·G, the final addition of the first-use path
        # doubles
        cases.append((minus_g, (-2 * small) % N, small))
        # low digits of s (w = 7) and t (w = 6) both `small` with P = G
        cases.append((g, 128 * 64 * m, small))
    for point in (g, minus_g, ec_mul(2, G), ec_mul(N - 2, G), ec_mul(rng.randrange(N), G)):
        for _ in range(3):
            cases.append((point, rng.randrange(1, N), rng.randrange(1, N)))
        # t = n - 6: the top-down signed-window multiplication (w = 5) of the first-use path
        # ends with (n-3)·P + (-3)·P, a doubling inside its last addition
        s = rng.randrange(1, N)
        cases.append((point, (N - 6 - s) % N, s))
    for point, r, s in cases:
        if (r + s) % N == 0:
            continue
        e = crafted_digest(point, r, s)
        key = c_key(point, table=table)
        if e is None:  # pragma: no cover - not among these cases
            continue
        assert key.verify(b32(e), b32(r), b32(s)), (point, r, s)
        assert not key.verify(b32((e + 1) % N), b32(r), b32(s))
        if e + N < 2**256:  # the digest is used mod n
            assert key.verify(b32(e + N), b32(r), b32(s))


@pytest.mark.parametrize("table", [False, True], ids=["first-use", "table"])
def test_t_zero_forgery_rejected(table: bool) -> None:
    """With r + s = n, t = 0 and s·G + t·P = s·G whatever the key: without the t != 0 check,
    e = r - x(s·G) would verify under every key (a universal forgery)."""
    rng = random.Random(29)
    key = c_key(ec_mul(rng.randrange(1, N - 1), G), table=table)
    for _ in range(4):
        s = rng.randrange(1, N)
        r = N - s
        sg = ec_mul(s, G)
        assert sg is not None
        assert not key.verify(b32((r - sg[0]) % N), b32(r), b32(s))


@pytest.mark.parametrize("table", [False, True], ids=["first-use", "table"])
def test_result_x_above_n(table: bool) -> None:
    """x1 in [n, p): verification must try x1 = ((r - e) mod n) + n (a 2^-128 event at random).

    Pick a result point R with such an x; the key P = t^-1 (R - s·G) then makes s·G + t·P = R.
    """
    rng = random.Random(23)
    x = N
    found = 0
    while found < 4:
        x += rng.randrange(1, 2**100)
        assert x < P
        rhs = (x**3 + sm2.A * x + sm2.B) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P != rhs:
            continue
        found += 1
        target: Point = (x, y)
        r, s = rng.randrange(1, N), rng.randrange(1, N)
        t = (r + s) % N
        point = ec_mul(pow(t, -1, N), ec_add(target, ec_neg(ec_mul(s, G))))
        assert ec_add(ec_mul(s, G), ec_mul(t, point)) == target
        e = (r - x) % N
        key = c_key(point, table=table)
        assert key.verify(b32(e), b32(r), b32(s))
        assert not key.verify(b32((e + 1) % N), b32(r), b32(s))
        assert not key.verify(b32((e - (P - N)) % N), b32(r), b32(s))


@pytest.mark.parametrize("table", [False, True], ids=["first-use", "table"])
def test_sum_at_infinity_rejected(table: bool) -> None:
    """s·G + t·P = O (s = -r·d/(1+d)) must fail for every digest."""
    rng = random.Random(9)
    for d in (1, 2, 3, rng.randrange(1, N - 1)):
        point = ec_mul(d, G)
        key = c_key(point, table=table)
        for _ in range(3):
            r = rng.randrange(1, N)
            s = -r * d * pow(1 + d, -1, N) % N
            assert ec_add(ec_mul(s, G), ec_mul(r + s, point)) is None
            for e in (0, 1, r, N - 1, rng.randrange(2**256)):
                assert not key.verify(b32(e), b32(r), b32(s))


# ------------------------------------------------- field and scalar edge cases


def test_digest_edges_against_reference() -> None:
    """e >= n, e = 2^256-1, e = p, nonces near n: the carries of the mod-n and mod-p steps."""
    rng = random.Random(13)
    digests = [0, 1, N - 1, N, N + 1, P - 1, P, P + 1, 2**256 - 1, 2**256 - 2, 2**255]
    nonces = [1, 2, N - 1, N - 2, 2**255, 2**256 - 1 - N, 2**128 - 1, 2**64]
    keys = [1, 2, N - 2, N - 3, 2**255, rng.randrange(1, N - 1)]
    for i, e in enumerate(digests):
        for j, k in enumerate(nonces):
            d = keys[(i + j) % len(keys)]
            got = c_sm2.sign_with_k(c_sm2.sign_setup(b32(d)), b32(e), b32(k))
            want = ref_sign(d, e, k)
            assert (None if got is None else tuple(int.from_bytes(v, "big") for v in got)) == (
                want
            ), (hex(d), hex(e), hex(k))
            if want is not None:
                key = c_key(ec_mul(d, G), table=(i + j) % 2 == 0)
                assert key.verify(b32(e), b32(want[0]), b32(want[1]))


def test_retry_conditions() -> None:
    """r = 0, r + k = n and s = 0 are all refused (None), k = 0 from the randomness too."""
    rng = random.Random(17)
    d = rng.randrange(2, N - 1)
    dinv = c_sm2.sign_setup(b32(d))
    k = rng.randrange(1, N)
    kg = ec_mul(k, G)
    assert kg is not None
    x1 = kg[0]
    e_r0 = (-x1) % N  # r = 0
    e_rk = (N - k - x1) % N  # r + k = n
    r_s0 = k * pow(d, -1, N) % N  # s = 0 <=> k = r·d
    e_s0 = (r_s0 - x1) % N
    for e in (e_r0, e_rk, e_s0, e_r0 + N, e_rk + N):
        if e < 2**256:
            assert c_sm2.sign_with_k(dinv, b32(e), b32(k)) is None
    assert c_sm2.sign_with_k(dinv, b32(e_s0 + 1), b32(k)) is not None
    # the randomness is reduced mod n: 0, n and n·2^256 give k = 0 -> None
    for rnd in (0, N, N << 256, N * 12345):
        assert c_sm2.sign(dinv, b32(5), rnd.to_bytes(64, "big")) is None
    # and otherwise k = randomness mod n exactly
    e = b32(rng.randrange(2**256))
    for rnd in (1, N + 1, 2**512 - 1, (N - 1) << 256, rng.randrange(2**512)):
        assert c_sm2.sign(dinv, e, rnd.to_bytes(64, "big")) == c_sm2.sign_with_k(
            dinv, e, b32(rnd % N)
        )


def test_argument_checks() -> None:
    dinv = c_sm2.sign_setup(b32(5))
    with pytest.raises(ValueError):
        c_sm2.sign(dinv, b32(1), b"\x00" * 32)
    with pytest.raises(ValueError):
        c_sm2.sign(b32(0), b32(1), os.urandom(64))
    with pytest.raises(ValueError):
        c_sm2.sign(b32(N), b32(1), os.urandom(64))
    with pytest.raises(ValueError):
        c_sm2.sign_with_k(dinv, b32(1), b32(0))
    with pytest.raises(ValueError):
        c_sm2.sign_with_k(dinv, b32(1), b32(N))
    with pytest.raises(TypeError):
        c_sm2.sign(dinv, b32(1))  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        c_sm2.sign_setup(b32(0))
    with pytest.raises(ValueError):
        c_sm2.sign_setup(b32(N))
    key = c_sm2.PublicKey(xy(G))
    with pytest.raises(ValueError):
        key.verify(b"\x00" * 31, b32(1), b32(1))
    with pytest.raises(TypeError):
        key.verify("x" * 32, b32(1), b32(1))  # type: ignore[arg-type]


def test_table_is_built_on_eighth_verification() -> None:
    rng = random.Random(19)
    d, e, (r, s) = _signed(rng)
    key = c_sm2.PublicKey(xy(ec_mul(d, G)))
    for i in range(7):
        assert not key.precomputed
        if i % 2:
            assert not key.verify(e, b32(s), b32(r))  # failures count as uses too
        else:
            assert key.verify(e, b32(r), b32(s))
    assert not key.precomputed
    assert key.verify(e, b32(r), b32(s))
    assert key.precomputed
    assert key.verify(e, b32(r), b32(s))
    explicit = c_sm2.PublicKey(xy(ec_mul(d, G)))
    explicit.precompute()
    assert explicit.precomputed and explicit.verify(e, b32(r), b32(s))


# -------------------------------------------------------------------- constant time

_CT_HARNESS = r"""
#include SOURCE
#include <valgrind/memcheck.h>
#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
int main(void)
{
    static const u64 one[4] = {1, 0, 0, 0};
    unsigned char rnd[64], r[32], s[32];
    u64 d[4] = {0x1111, 0x2222, 0x3333, 0x0fff}, dinv[4], e[4] = {1, 2, 3, 4}, k[4], t[4];
    ppt q;
    apt a;
    int ok;
    if (init_curve() < 0)
        return 2;
    for (int i = 0; i < 64; i++)
        rnd[i] = (unsigned char)(i * 37 + 11);
    SECRET(d, 32); /* derive_point */
    ct_mul_base(&q, d);
    pt_to_affine(&a, &q);
    fp_from_mont(a.x, a.x);
    fp_from_mont(a.y, a.y);
    PUBLIC(&a, sizeof a);
    SECRET(d, 32); /* sign_setup */
    fn_add(t, d, one);
    fn_mul(t, t, FN_R2);
    fn_inv(t, t);
    fn_mul(dinv, t, one);
    SECRET(dinv, 32); /* sign: the nonce from the randomness, then the signature */
    SECRET(rnd, 64);
    nonce_from_bytes(k, rnd);
    ok = sign_core(r, s, dinv, e, k);
    PUBLIC(&ok, sizeof ok); /* the retry outcome is public */
    PUBLIC(r, 32);
    PUBLIC(s, 32);
    printf("ok=%d %02x%02x", ok, r[0], s[0]);
    { /* sign_many: three nonces sharing one inversion, a zero one in the middle */
        u64 eb[3][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}, kb[3][4], pre[3][4];
        unsigned char rndb[192], rsb[192], okb[3];
        ppt qb[3];
        for (int i = 0; i < 192; i++)
            rndb[i] = (unsigned char)(i * 53 + 7);
        SECRET(dinv, 32);
        SECRET(rndb, 192);
        for (int j = 0; j < 3; j++)
            nonce_from_bytes(kb[j], rndb + 64 * j);
        memset(kb[1], 0, 32);
        SECRET(kb, sizeof kb);
        sign_batch_core(rsb, okb, dinv, (const u64(*)[4])eb, (const u64(*)[4])kb, 3, qb, pre);
        PUBLIC(okb, 3);
        PUBLIC(rsb, 192);
        printf(" batch=%d%d%d", okb[0], okb[1], okb[2]);
    }
    printf("\n");
    return 0;
}
"""


def test_signing_path_is_constant_time(tmp_path: Path) -> None:
    """No branch and no memory index depends on d, (1+d)^-1, the randomness or k, one
    signature at a time or many sharing an inversion.

    The ctgrind method: the C source, compiled by this machine's gcc at -O3, runs under
    valgrind memcheck with the secrets marked undefined; memcheck then reports every
    conditional jump and address computed from them. Skipped without gcc, valgrind (and its
    headers) or a shared libpython.
    """
    import shutil
    import sysconfig

    gcc, valgrind = shutil.which("gcc"), shutil.which("valgrind")
    libdir = sysconfig.get_config_var("LIBDIR")
    version = sysconfig.get_config_var("LDVERSION")
    if (
        gcc is None
        or valgrind is None
        or not Path("/usr/include/valgrind/memcheck.h").exists()
        or not sysconfig.get_config_var("Py_ENABLE_SHARED")
    ):
        pytest.skip("needs gcc, valgrind with headers and a shared libpython")
    source = Path(c_sm2.__file__).parent / "_sm2p256.c"
    (tmp_path / "ct.c").write_text(_CT_HARNESS.replace("SOURCE", json.dumps(str(source))))
    subprocess.run(
        [
            *(gcc, "-O3", "-g", "-I", sysconfig.get_paths()["include"], str(tmp_path / "ct.c")),
            *("-o", str(tmp_path / "ct"), f"-L{libdir}", f"-lpython{version}"),
        ],
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [valgrind, "--tool=memcheck", "--error-exitcode=99", str(tmp_path / "ct")],
        capture_output=True,
        text=True,
        env={**os.environ, "LD_LIBRARY_PATH": libdir},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.startswith("ok=1") and done.stdout.strip().endswith("batch=101")
    assert "ERROR SUMMARY: 0 errors" in done.stderr


# ------------------------------------------------------------------------ threads


def test_threads_share_keys(native: sm2.NativeBackend, libcrypto: sm2.Sm2Backend) -> None:
    """The GIL is released around the arithmetic: concurrent use stays correct."""
    keys = [sm2.generate_private_key(native) for _ in range(4)]
    barrier = threading.Barrier(4)

    def work(i: int) -> list[tuple[int, bytes, bytes]]:
        barrier.wait()
        out = []
        for j in range(60):
            key = keys[(i + j) % 4]
            msg = f"{i}-{j}".encode()
            sig = key.sign(msg)
            key.public_key.verify(msg, sig)  # builds tables concurrently too
            out.append(((i + j) % 4, msg, sig))
        return out

    with ThreadPoolExecutor(4) as pool:
        results = [item for part in pool.map(work, range(4)) for item in part]
    for index, msg, sig in results[::10]:
        keys[index].public_key.with_backend(libcrypto).verify(msg, sig)


# ---------------------------------------------------------------- python-level API


def test_generate_and_handles(native: sm2.NativeBackend) -> None:
    secret, point, handle = native.generate()
    assert 1 <= secret <= N - 2
    assert point == uncompressed(ec_mul(secret, G))
    sig = native.sign(handle, b"m", DEFAULT_ID)
    assert native.verify(native.public_handle(point), b"m", sig, DEFAULT_ID)
    assert not native.verify(native.public_handle(point), b"n", sig, DEFAULT_ID)
    r, s = sm2.decode_signature(sig)
    assert 1 <= r < N and 1 <= s < N
    with pytest.raises(Sm2BadKey):
        native.private_handle(0, point)
    with pytest.raises(Sm2BadKey):
        native.private_handle(N - 1, point)


def test_signatures_are_randomized(native: sm2.NativeBackend) -> None:
    key = sm2.generate_private_key(native)
    sigs = {key.sign(b"same") for _ in range(20)}
    assert len(sigs) == 20


@pytest.mark.parametrize("make", [bytes, bytearray, memoryview])
def test_data_may_be_any_buffer(native: sm2.NativeBackend, make: Callable[[bytes], Any]) -> None:
    key = sm2.generate_private_key(native)
    sig = key.sign(make(b"buffer data"))
    key.public_key.verify(make(b"buffer data"), sig)
    key.public_key.verify(b"buffer data", sig)


# ------------------------------------------------------------ many signatures at once


def _unpack(rs: bytes, ok: bytes) -> list[tuple[int, int] | None]:
    return [
        (int.from_bytes(rs[64 * i : 64 * i + 32], "big"),
         int.from_bytes(rs[64 * i + 32 : 64 * i + 64], "big")) if ok[i] else None
        for i in range(len(ok))
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 17, 64])
def test_sign_many_equals_one_by_one(count: int) -> None:
    """Signatures sharing one inversion are exactly the single ones (and the standard's), for
    every position in the batch, nonces and digests near the edges included."""
    rng = random.Random(count)
    d = rng.choice([1, N - 2, rng.randrange(1, N - 1)])
    dinv = c_sm2.sign_setup(b32(d))
    edges = [1, N - 1, 2**255, 2**256 - 1 - N]
    ks = [edges[i] if i < len(edges) and count > 8 else rng.randrange(1, N) for i in range(count)]
    es = [rng.choice([0, N, P, 2**256 - 1, rng.randrange(2**256)]) for _ in range(count)]
    rs, ok = c_sm2.sign_many_with_k(
        dinv, b"".join(map(b32, es)), b"".join(map(b32, ks))
    )
    for (e, k), got in zip(zip(es, ks, strict=True), _unpack(rs, ok), strict=True):
        single = c_sm2.sign_with_k(dinv, b32(e), b32(k))
        assert got == (None if single is None else tuple(int.from_bytes(v, "big") for v in single))
        assert got == ref_sign(d, e, k)


def test_sign_many_rejects_only_the_bad_nonces() -> None:
    """A nonce of 0 (its point at infinity) or one giving r + k = n is refused where it
    stands; the others in the batch are still right (a zero Z must not spoil the shared
    inversion)."""
    rng = random.Random(23)
    d = rng.randrange(2, N - 1)
    dinv = c_sm2.sign_setup(b32(d))
    ks = [rng.randrange(1, N) for _ in range(6)]
    es = [rng.randrange(2**256) for _ in range(6)]
    ks[0] = 0
    ks[3] = 0
    kg = ec_mul(ks[4], G)
    assert kg is not None
    es[4] = (N - ks[4] - kg[0]) % N  # r + k = n
    got = _unpack(*c_sm2.sign_many_with_k(dinv, b"".join(map(b32, es)), b"".join(map(b32, ks))))
    assert [g is None for g in got] == [True, False, False, True, True, False]
    for i in (1, 2, 5):
        assert got[i] == ref_sign(d, es[i], ks[i])
    # from randomness: k = randomness mod n, 0 where it reduces to 0
    rnd = [rng.randrange(2**512) for _ in range(4)]
    rnd[2] = N << 256
    rs, ok = c_sm2.sign_many(dinv, b32(7) * 4, b"".join(r.to_bytes(64, "big") for r in rnd))
    want = [ref_sign(d, 7, r % N) if r % N else None for r in rnd]
    assert _unpack(rs, ok) == want


def test_sign_many_signatures_verify_elsewhere(
    native: sm2.NativeBackend, libcrypto: sm2.Sm2Backend
) -> None:
    """Through the key API: every signature of a batch verifies with libcrypto, nonces are
    fresh, and a key on another backend signs one by one with the same result shape."""
    key = sm2.generate_private_key(native)
    datas = [os.urandom(n) for n in (0, 1, 64, 190, 1000) for _ in range(8)]
    signatures = sm2.KeySigner(key).sign_raw_many(datas)
    assert len(set(signatures)) == len(datas)
    peer = sm2.Sm2PublicKey(key.public_key.point, libcrypto)
    for data, signature in zip(datas, signatures, strict=True):
        peer.verify(data, signature)
    assert sm2.KeySigner(key).sign_raw_many([]) == []
    other = sm2.generate_private_key(libcrypto)
    for data, signature in zip(datas[:3], sm2.KeySigner(other).sign_raw_many(datas[:3]),
                               strict=True):
        other.public_key.verify(data, signature)


def test_sign_many_argument_checks() -> None:
    dinv = c_sm2.sign_setup(b32(5))
    for digests, material in [
        (b"", b""),  # nothing to sign
        (b32(1)[:31], os.urandom(64)),  # not whole digests
        (b32(1) * 2, os.urandom(64)),  # randomness for one of two
        (b32(1), os.urandom(63)),
    ]:
        with pytest.raises(ValueError):
            c_sm2.sign_many(dinv, digests, material)
    with pytest.raises(ValueError):
        c_sm2.sign_many(b32(0), b32(1), os.urandom(64))
    with pytest.raises(ValueError):
        c_sm2.sign_many_with_k(dinv, b32(1), b32(N))
    with pytest.raises(TypeError):
        c_sm2.sign_many(dinv, "x" * 32, os.urandom(64))  # type: ignore[arg-type]
