"""``zhengyin seal …``: create and show GB/T 38540 seals.

``seal new`` keeps everything under ``ZHENGYIN_HOME``::

    <home>/keys/kek               random key-encryption passphrase (0600), when
                                  ZHENGYIN_KEY_PASSPHRASE is unset (development default)
    <home>/ca/root.pem, .key      the local development CA (created on first use)
    <home>/ca/seal-maker.pem, .key
    <home>/signers/<USCC>.pem, .key   the agency's signer certificate and key
    <home>/seals/<code>.esl       the seals made

Private keys are encrypted with ``ZHENGYIN_KEY_PASSPHRASE`` when set, else with the
passphrase in ``<home>/keys/kek``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from seals.errors import SealError
from seals.ses import Seal, SealSignature, detect, parse_seal, parse_signature
from seals.x509 import X509Certificate
from verifier.app.keyring import check_uscc, make_seal, signer_pair
from verifier.cli.output import anchor_on_chain, echo_json, output_options, progress
from verifier.settings import Settings


def _seal_summary(seal: Seal) -> dict[str, Any]:
    p = seal.property
    out: dict[str, Any] = {
        "kind": "seal",
        "layout": seal.layout,
        "header": {"id": seal.header_id, "version": seal.version, "vendor_id": seal.vendor_id},
        "es_id": seal.es_id,
        "type": p.type,
        "name": p.name,
        "created": p.created.isoformat(),
        "valid_from": p.valid_from.isoformat(),
        "valid_until": p.valid_until.isoformat(),
        "cert_list_type": p.cert_list_type,
        "picture": {
            "type": seal.picture.type,
            "bytes": len(seal.picture.data),
            "width_mm": seal.picture.width_mm,
            "height_mm": seal.picture.height_mm,
        },
        "signature_algorithm": seal.signature_algorithm,
    }
    try:
        out["maker"] = X509Certificate.from_der(seal.maker_certificate).describe()
    except SealError as exc:
        out["maker"] = {"error": str(exc)}
    certs: list[dict[str, Any]] = []
    for der in p.certificates:
        try:
            certs.append(X509Certificate.from_der(der).describe())
        except SealError as exc:
            certs.append({"error": str(exc)})
    out["signer_certificates"] = certs
    out["signer_certificate_digests"] = [
        {"type": d.type, "value": d.value.hex()} for d in p.digests
    ]
    return out


def _signature_summary(sig: SealSignature) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "signature",
        "layout": sig.layout,
        "version": sig.version,
        "signing_time": sig.signing_time.isoformat() if sig.signing_time else None,
        "data_hash": sig.data_hash.hex(),
        "property_info": sig.property_info,
        "signature_algorithm": sig.signature_algorithm,
        "timestamp": sig.timestamp is not None,
        "seal": _seal_summary(sig.seal),
    }
    try:
        out["signer"] = X509Certificate.from_der(sig.signer_certificate).describe()
    except SealError as exc:
        out["signer"] = {"error": str(exc)}
    return out


def _human(summary: dict[str, Any], indent: str = "") -> list[str]:
    lines: list[str] = []
    if summary["kind"] == "signature":
        lines += [
            f"{indent}seal signature ({summary['layout']})",
            f"{indent}  signed at:     {summary['signing_time']}",
            f"{indent}  protects:      {summary['property_info']}",
            f"{indent}  data hash:     {summary['data_hash']}",
            f"{indent}  signer:        {summary['signer'].get('subject', summary['signer'])}",
            f"{indent}  time-stamp:    {'yes' if summary['timestamp'] else 'no'}",
            f"{indent}  seal:",
        ]
        return lines + _human(summary["seal"], indent + "    ")
    pic = summary["picture"]
    lines += [
        f"{indent}electronic seal ({summary['layout']}, header {summary['header']['id']}"
        f"/{summary['header']['version']}/{summary['header']['vendor_id']})",
        f"{indent}  name:          {summary['name']}",
        f"{indent}  code:          {summary['es_id']}",
        f"{indent}  type:          {summary['type']}",
        f"{indent}  created:       {summary['created']}",
        f"{indent}  valid:         {summary['valid_from']} .. {summary['valid_until']}",
        f"{indent}  picture:       {pic['type']}, {pic['bytes']} bytes, "
        f"{pic['width_mm']}×{pic['height_mm']} mm",
        f"{indent}  maker:         {summary['maker'].get('subject', summary['maker'])}",
    ]
    for c in summary["signer_certificates"]:
        lines.append(
            f"{indent}  signer cert:   {c.get('subject', c)} "
            f"({c.get('not_before', '?')[:10]} .. {c.get('not_after', '?')[:10]})"
        )
    for d in summary["signer_certificate_digests"]:
        lines.append(f"{indent}  signer digest: {d['type']} {d['value']}")
    return lines


@click.group("seal")
def seal_group() -> None:
    """Create and inspect GB/T 38540 electronic seals."""


@seal_group.command("new")
@click.option("--issuer", "uscc", required=True, help="The agency's USCC (统一社会信用代码).")
@click.option("--name", required=True, help="The seal's name, usually the agency's name.")
@click.option(
    "--picture",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seal picture (PNG/JPG/GIF/BMP/SVG); default: a drawn red round seal.",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The signer's SM2 private key (PEM; encrypted with ZHENGYIN_KEY_PASSPHRASE).",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The signer's certificate (PEM/DER), with --key.",
)
@click.option(
    "--years",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Validity of the seal in years (capped by the signer certificate).",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the seal here."
)
@output_options
@click.pass_obj
def seal_new(
    settings: Settings,
    uscc: str,
    name: str,
    picture: Path | None,
    key: Path | None,
    cert: Path | None,
    years: int,
    out: Path | None,
    as_json: bool,
) -> None:
    """Make a v4 seal for an agency, signed by the local seal maker; print its path.
    JSON: {issuer, name, seal, out}."""
    uscc = check_uscc(uscc)
    with progress("making the seal"):
        signer = signer_pair(settings, uscc, name, key, cert)
        path = make_seal(settings, uscc, name, signer, picture, years)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out)
    if as_json:
        echo_json({"issuer": uscc, "name": name, "seal": str(path),
                   "out": str(out) if out is not None else None})
    else:
        click.echo(str(path))


@seal_group.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@output_options
def seal_show(file: Path, as_json: bool) -> None:
    """Summarise a seal (.esl) or a seal signature (.dat/.der). JSON: the summary, with
    kind seal or signature."""
    data = file.read_bytes()
    if detect(data) == "seal":
        summary = _seal_summary(parse_seal(data))
    else:
        summary = _signature_summary(parse_signature(data))
    if as_json:
        echo_json(summary)
    else:
        click.echo("\n".join(_human(summary)))


@seal_group.command("stamp")
@click.option("--issuer", "uscc", required=True, help="The agency's USCC (统一社会信用代码).")
@click.argument("infile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("outfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--page", type=click.IntRange(1), help="1-based page; default: the last page.")
@click.option("--x", "x_mm", type=float, help="Left edge in mm from the page's left edge.")
@click.option("--y", "y_mm", type=float, help="Bottom edge in mm from the page's bottom edge.")
@click.option("--width", "width_mm", type=float, help="Stamp width in mm (default: the seal's).")
@click.option("--no-anchor", is_flag=True, help="Do not anchor the sealed document on chain.")
@output_options
@click.pass_obj
def seal_stamp(
    settings: Settings,
    uscc: str,
    infile: Path,
    outfile: Path,
    page: int | None,
    x_mm: float | None,
    y_mm: float | None,
    width_mm: float | None,
    no_anchor: bool,
    as_json: bool,
) -> None:
    """Seal the PDF or OFD file INFILE with the issuer's newest seal; write OUTFILE and
    anchor its SM3 digest on chain. A PDF gets an incremental update (INFILE's bytes stay
    its prefix); an OFD package (a zip, by content) gets one more signature, earlier ones
    left intact. JSON: {out, format, sm3, anchor: {block, tx_hash} or null}."""
    from seals.ofd import looks_like_ofd
    from seals.pdf import sealed_document_digest
    from verifier.app.stamping import AgencyStamper, anchor_sealed

    data = infile.read_bytes()
    kind = "ofd" if looks_like_ofd(data) else "pdf"
    with progress(f"sealing the {kind.upper()}"):
        stamper = AgencyStamper.load(settings, uscc)
        sealed = stamper.stamp(data, page=page, x_mm=x_mm, y_mm=y_mm, width_mm=width_mm)
    outfile.parent.mkdir(parents=True, exist_ok=True)
    outfile.write_bytes(sealed)
    digest = sealed_document_digest(sealed).hex()
    if not as_json:
        click.echo(f"{outfile}\tsm3:{digest}")
    anchor = None
    if not no_anchor:
        anchor = anchor_on_chain(
            lambda: anchor_sealed(settings, stamper.uscc, sealed), as_json=as_json
        )
    if as_json:
        echo_json({"out": str(outfile), "format": kind, "sm3": digest, "anchor": anchor})


COMMANDS: list[click.Command] = [seal_group]
