"""Certificate PDFs: render + seal throughput in one process (target ≥ 50 PDFs/s per core).

Run: ``python bench/render.py [--count 100] [--rounds 5]``. Makes ``--count`` different
signed, anchored certificate documents (a business licence with a rare-character holder
name; not timed), then renders each (:func:`certs.render.render_certificate`: A4, embedded
subsetted CJK fonts, QR code, ``certificate.json``) and seals it
(:func:`verifier.app.render.seal_certificate_pdf`: GB/T 38540 seal signature, incremental
update) one after another on one thread, ``--rounds`` times over, and prints:

- PDFs per CPU-second (= per core: one thread) for render + seal, and for each step alone:
  the median pass (and the best one; the machines here are shared and noisy);
- the median PDF size.

Fonts are loaded once before timing (as a service does at start-up), and the first render
(which warms the font and glyph caches) is not counted. Anchoring the sealed PDFs on chain is
not included (one transaction each; see ``gas.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from certs.canonical import Anchor, CertificateDocument, IssuerSignature, make_document
from certs.identifiers import uscc_check_char
from certs.issuance import key_id_of
from certs.merkle import MerkleTree
from certs.model import build_certificate
from certs.render import default_fonts, render_certificate
from certs.request_parser import parse_request
from certs.types import default_registry
from seals.ca import Issued, create_root, issue_seal_maker, issue_signer
from seals.picture import draw_round_seal
from seals.seal import SealSpec, create_seal
from seals.ses import parse_seal
from seals.sm2 import KeySigner, generate_private_key
from verifier.app.render import seal_certificate_pdf
from verifier.app.stamping import AgencyStamper

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TYPE = "11100000MA0000001Q001"
ISSUER = "11110105MB000000" + "0"
ISSUER_NAME = "北京市朝阳区市场监督管理局"
SURNAMES = "王李张刘陈杨黄赵吴周"
RARE = "堃喆赟玥昇䶮𠮷"


def documents(count: int) -> list[CertificateDocument]:
    registry = default_registry()
    issuer = ISSUER + uscc_check_char(ISSUER)
    signer = KeySigner(generate_private_key())
    key_id = key_id_of(signer.public_key)
    signed = []
    for i in range(count):
        name = f"北京{SURNAMES[i % 10]}{RARE[i % 7]}{RARE[(i + 3) % 7]}科技有限公司"
        request = parse_request(
            {
                "type": TYPE,
                "number": f"1101050{i:08d}",
                "holder": {"name": name, "code": "91110000101623741K", "code_type": "001"},
                "issue_date": "2026-11-28",
                "valid_from": "2026-11-28",
                "valid_until": None,
                "jurisdiction": "110105",
                "fields": {
                    "统一社会信用代码": "91110000101623741K",
                    "企业名称": name,
                    "类型": "有限责任公司（自然人投资或控股）",
                    "法定代表人": f"{SURNAMES[(i + 4) % 10]}{RARE[(i + 5) % 7]}",
                    "注册资本": f"{100 + i}万元人民币",
                    "成立日期": "2015-06-01",
                    "住所": f"北京市朝阳区某某路{i % 97 + 1}号院2号楼3层301",
                    "经营范围": "技术开发、技术咨询、技术服务；软件开发。",
                },
            },
            issuer_uscc=issuer,
            registry=registry,
            today=T0.date(),
        )
        certificate = build_certificate(
            request,
            certificate_type=registry.get(TYPE),
            issuer_name=ISSUER_NAME,
            serial=str(2430599 + i),
        )
        document = make_document(certificate)
        value = signer.sign_raw(document.signing_input(key_id))
        signed.append(
            replace(document, signature=IssuerSignature(key_id, signer.public_key.point, value))
        )
    tree = MerkleTree.build([d.leaf for d in signed])
    return [
        replace(
            d, anchor=Anchor(tree.root, tree.proof(i), 3005, "0x" + "11" * 20, "0x" + "22" * 32, 7)
        )
        for i, d in enumerate(signed)
    ]


def stamper() -> AgencyStamper:
    root = create_root(now=T0 - timedelta(days=30))
    maker = issue_seal_maker(root, now=T0 - timedelta(days=30))
    issuer = ISSUER + uscc_check_char(ISSUER)
    signer: Issued = issue_signer(root, uscc=issuer, name=ISSUER_NAME, now=T0)
    seal = create_seal(
        SealSpec(
            name=ISSUER_NAME,
            es_id=issuer + "0001",
            valid_from=T0,
            valid_until=T0 + timedelta(days=365),
            picture=draw_round_seal(ISSUER_NAME),
            signer_certificates=(signer.certificate,),
            created=T0,
        ),
        maker.certificate,
        maker.signer,
    )
    return AgencyStamper(issuer, parse_seal(seal.der), signer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="documents per pass")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the documents")
    args = parser.parse_args()
    docs = documents(args.count + 1)
    agency = stamper()
    fonts = default_fonts()
    certificate_type = default_registry().get(TYPE)

    def render(document: CertificateDocument) -> bytes:
        return render_certificate(
            document, certificate_type=certificate_type, seal_picture_png=None, fonts=fonts
        )

    def seal(pdf: bytes) -> bytes:
        return seal_certificate_pdf(pdf, issuer=agency.uscc, stamper=agency, at=T0)

    seal(render(docs[0]))  # warm-up: glyph caches, the seal picture as a PDF image
    work = docs[1:]
    n = len(work)

    def per_pdf(step: Callable[[], object]) -> list[float]:
        """CPU seconds per PDF in each of ``args.rounds`` passes over the documents."""
        out = []
        for _ in range(args.rounds):
            start = time.process_time()
            step()
            out.append((time.process_time() - start) / n)
        return out

    rendered: list[bytes] = []
    render_times = per_pdf(lambda: rendered[:] == [render(d) for d in work])
    rendered = [render(d) for d in work]
    sizes = [len(seal(pdf)) for pdf in rendered]
    seal_times = per_pdf(lambda: [seal(pdf) for pdf in rendered])
    both_times = per_pdf(lambda: [seal(render(d)) for d in work])

    def line(label: str, times: list[float], target: str = "") -> str:
        med, best = statistics.median(times), min(times)
        return (
            f"  {label:15s} {1 / med:7.1f} PDFs/s per core ({1000 * med:.1f} ms CPU each, "
            f"median of {len(times)} passes; best pass {1 / best:.1f}/s) {target}"
        )

    print(f"certificate PDFs: {n} business licences, A4, embedded CJK subsets, QR, sealed")
    print(line("render + seal", both_times, " target >= 50"))
    print(line("render only", render_times))
    print(line("seal only", seal_times))
    print(f"  sealed size     {statistics.median(sizes) / 1024:7.1f} KB (median)")


if __name__ == "__main__":
    main()
