"""``zhengyin render``: an anchored certificate as a sealed PDF or OFD; and the PDFs
``issue --pdf`` writes."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import click

from certs.status import load_record, load_records
from certs.store import Store
from verifier.app.agency import open_store, require_issuer
from verifier.cli.output import anchor_on_chain, echo_json, output_options, progress
from verifier.settings import Settings

pass_settings = click.make_pass_decorator(Settings)


@contextlib.contextmanager
def _glyph_warnings() -> Iterator[None]:
    """Show a missing glyph as one line ``warning [missing_glyph]: …`` on stderr."""
    from certs.render import MissingGlyphWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingGlyphWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, MissingGlyphWarning):
            click.echo(f"warning [missing_glyph]: {warning.message}", err=True)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)


def write_pdfs(settings: Settings, store: Store, identifiers: list[str], out: Path) -> list[str]:
    """Render, seal and anchor each certificate as ``out/<identifier>.pdf``."""
    from verifier.app.render import CertificatePdfMaker, anchor_certificate_pdf

    maker = CertificatePdfMaker(settings)
    written: list[str] = []
    with progress("rendering, sealing and anchoring PDFs", total=len(identifiers)) as advance:
        for record in load_records(store, identifiers):
            with _glyph_warnings():
                sealed = maker.render(record)
            anchor_certificate_pdf(settings, record.issuer, sealed)
            path = out / f"{record.identifier}.pdf"
            path.write_bytes(sealed)
            written.append(str(path))
            advance(1)
    return written


@click.command("render")
@click.argument("identifier")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the sealed file.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["pdf", "ofd"]),
    default=None,
    help="pdf (A4 PDF) or ofd (GB/T 33190 OFD package); default: by the extension of --out "
    "(.ofd: ofd), else pdf.",
)
@click.option("--no-anchor", is_flag=True, help="Do not anchor the sealed file on chain.")
@output_options
@pass_settings
def render_command(
    settings: Settings, identifier: str, out: Path, file_format: str | None, no_anchor: bool,
    as_json: bool,
) -> None:
    """Write an anchored certificate as an A4 PDF, or an OFD, sealed with its issuer's seal:
    QR code, printed verification code, and the certificate document embedded as
    certificate.json. JSON: {identifier, out, format, anchor: {block, tx_hash} or null}."""
    from verifier.app.render import CertificatePdfMaker, anchor_certificate_pdf

    chosen = file_format or ("ofd" if out.suffix.lower() == ".ofd" else "pdf")
    store = open_store(settings)
    record = load_record(store, identifier.strip())
    require_issuer(store, record.issuer)
    maker = CertificatePdfMaker(settings)
    with progress(f"rendering and sealing the {chosen.upper()}"), _glyph_warnings():
        sealed = maker.render_ofd(record) if chosen == "ofd" else maker.render(record)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(sealed)
    if not as_json:
        click.echo(str(out))
    anchor = None
    if not no_anchor:
        anchor = anchor_on_chain(
            lambda: anchor_certificate_pdf(settings, record.issuer, sealed), as_json=as_json
        )
    if as_json:
        echo_json({"identifier": record.identifier, "out": str(out), "format": chosen,
                   "anchor": anchor})


COMMANDS: list[click.Command] = [render_command]
