"""What the service reads: verifications (QR, documents, uploaded files), presentations,
a certificate's timeline, and the masked and QR forms of a record."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from certs import qr
from certs.canonical import ALWAYS_DISCLOSED, disclose
from certs.status import (
    CertificateNotFound,
    CertificateRecord,
    leaf_of,
    load_record,
)
from verifier.app import presentations
from verifier.app.isolation import LimitExceeded, run_isolated
from verifier.app.service.base import (
    Principal,
    ServiceBase,
)
from verifier.checks.certificates import (
    certificate_subject,
    holder_facts,
    verify_certificate_text,
    verify_qr,
)
from verifier.checks.short_code_checks import verify_short_code
from verifier.checks.verdict import Fragment, Status, Verdict
from verifier.errors import VerifierError


class Reading(ServiceBase):
    """Verifying, presenting, timelines."""

    # ---- verifying ----

    def verify_qr(self, text: str) -> Verdict:
        return verify_qr(text, self.indexer)

    def verify_short_code(self, text: str) -> Verdict:
        """A typed short code (核验码): the stored certificate it names, verified in full
        (:mod:`verifier.checks.short_code_checks`)."""
        return verify_short_code(
            text, self.find_record, lambda: self.indexer,
            leaf_of=functools.partial(leaf_of, self.store),
        )

    def find_record(self, identifier: str) -> CertificateRecord | None:
        """The record held for ``identifier``, or ``None``."""
        try:
            return load_record(self.store, identifier)
        except CertificateNotFound:
            return None

    def verify_bytes(self, data: bytes) -> Verdict:
        """An uploaded file, whatever it is: certificate JSON, sealed PDF, seal, signature."""
        if data.lstrip()[:1] == b"{":
            return verify_certificate_text(data, lambda: self.indexer)
        return verify_file_isolated(data, self)

    # ---- presenting ----

    def present(
        self,
        principal: Principal,
        identifier: str,
        purpose: str,
        fields: list[str] | None,
        ttl: dt.timedelta = presentations.DEFAULT_TTL,
    ) -> presentations.Presentation:
        record = self.own_record(principal, identifier)
        if fields is not None:
            unknown = [f for f in fields if f not in record.document.claims]
            if unknown:
                raise VerifierError(
                    f"unknown field(s) to disclose: {', '.join(unknown)}", code="unknown_field"
                )
            # what the certificate is, who issued it and its validity are always shown
            fields = [*dict.fromkeys([*ALWAYS_DISCLOSED, *fields])]
        self.flush_log()  # what this process queued happened before
        if record.status == "pending":
            raise VerifierError(
                "the certificate is not anchored yet; try again in a moment", code="not_anchored"
            )
        return presentations.create(self.store, identifier, purpose, fields, principal.actor, ttl)

    def redeem(self, principal: Principal, code: str) -> tuple[Verdict, dict[str, Any]]:
        try:
            self.require(principal, "counter")
        except VerifierError as exc:  # logged as any refused redemption (the code is not)
            self.log_refusal(principal, "redeem_refused", None, exc)
            raise
        self.flush_log()  # what this process queued happened before
        judged: list[tuple[Verdict, dict[str, Any]]] = []

        def judge(presentation: presentations.Presentation) -> dict[str, Any]:
            judged.append(self._judge_presentation(presentation))
            verdict, shown = judged[-1]
            return {"verdict": verdict.outcome.value, "disclosed": sorted(shown["values"])}

        presentations.redeem(self.store, code, principal.actor, judge=judge,
                             log=self.queue_event)
        return judged[-1]

    def _judge_presentation(
        self, presentation: presentations.Presentation
    ) -> tuple[Verdict, dict[str, Any]]:
        record = load_record(self.store, presentation.identifier)
        # every check runs on the full stored document (its validity and status whatever
        # the holder hides); the counter is shown only the disclosed claims
        full = verify_certificate_text(record.document.to_json().encode(), lambda: self.indexer)
        document = record.document
        if presentation.fields is not None:
            shown_paths = {*ALWAYS_DISCLOSED, *presentation.fields}
            document = disclose(document, [p for p in document.claims if p not in shown_paths])
        subject = {
            **certificate_subject(document),
            **{k: v for k, v in full.subject.items() if k == "chain"},
        }
        verdict = Verdict(full.checks, subject)
        shown = {
            "values": document.values(),
            "hidden": list(document.hidden_paths),
            "purpose": presentation.purpose,
        }
        return verdict, shown

    # ---- reading ----

    def masked(self, record: CertificateRecord) -> dict[str, Any]:
        """The record's values, the holder masked unless a legal person (:func:`holder_facts`)."""
        values = record.document.values()
        out: dict[str, Any] = {k: v for k, v in values.items() if not k.startswith("holder.")}
        return {**out, **holder_facts(values)}

    def qr_text(self, record: CertificateRecord) -> str:
        return qr.payload_for(record.document).encode()


def verify_file_isolated(data: bytes, service: ServiceBase) -> Verdict:
    """A sealed PDF (every seal, each sealed revision's anchor, the embedded certificate), a
    sealed OFD (every seal, :mod:`seals.ofd`; the whole file's anchor) or a seal or seal
    signature file. The file is read in a child process within the service's limits
    (:mod:`verifier.app.isolation`); the chain is asked here."""
    from seals.ofd.package import looks_like_ofd
    from verifier.checks.ofd_checks import judge_ofd, read_ofd
    from verifier.checks.pdf_checks import judge_pdf, read_pdf
    from verifier.checks.seal_checks import seal_file_verdict, trust_anchors

    settings = service.settings
    anchors = trust_anchors(settings.home_dir, ())
    pdf = data.lstrip()[:5].startswith(b"%PDF-")
    ofd = looks_like_ofd(data)
    try:
        if ofd:  # a zip: an OFD package, read like a PDF in a child process within limits
            found = run_isolated(
                functools.partial(read_ofd, anchors=anchors), data,
                seconds=settings.verify_seconds, memory=settings.verify_memory_bytes,
            )
            return judge_ofd(found, data, lambda: service.indexer)
        if pdf:
            local = run_isolated(
                functools.partial(read_pdf, anchors=anchors), data,
                seconds=settings.verify_seconds, memory=settings.verify_memory_bytes,
            )
            return judge_pdf(local, lambda: service.indexer)
        return run_isolated(
            seal_file_verdict, data, anchors,
            seconds=settings.verify_seconds, memory=settings.verify_memory_bytes,
        )
    except LimitExceeded as exc:
        return limit_verdict(exc, "ofd" if ofd else "pdf" if pdf else "file")


def limit_verdict(exc: LimitExceeded, kind: str) -> Verdict:
    """The verdict on a file whose reading ran out of time or memory: could not check."""
    why = exc.code if exc.code in ("verify_busy", "verify_timeout", "verify_memory") else "other"
    return Verdict(
        (
            Fragment(
                "file.resources",
                "format",
                Status.ERROR,
                f"file.resources.{why}",
                {"error": str(exc)},
                {"code": exc.code},
            ),
        ),
        {"kind": kind},
    )
