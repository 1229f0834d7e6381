"""What the service reads: verifications (QR, documents, uploaded files), presentations,
a certificate's timeline, and the masked and QR forms of a record."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

import sqlalchemy as sa

from certs import qr
from certs.canonical import ALWAYS_DISCLOSED, disclose
from certs.status import (
    CertificateNotFound,
    CertificateRecord,
    leaf_of,
    load_record,
)
from certs.store import service_events
from chain.registry import ChainEvent
from verifier.app import catalogue_context as timeline_context
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
        if record.status == "pending":
            raise VerifierError(
                "the certificate is not anchored yet; try again in a moment", code="not_anchored"
            )
        return presentations.create(self.store, identifier, purpose, fields, principal.actor, ttl)

    def redeem(self, principal: Principal, code: str) -> tuple[Verdict, dict[str, Any]]:
        self.require(principal, "counter")
        presentation = presentations.redeem(self.store, code, principal.actor)
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

    # ---- history ----

    def history(
        self,
        principal: Principal,
        identifier: str,
        *,
        after: HistoryKey | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The certificate's timeline, chain and service events in time order, ``limit``
        events after the position ``after`` (each event's position is its ``"key"``; the
        answer's ``"more"`` says whether events follow)."""
        record = self.own_record(principal, identifier, roles=("issuer", "auditor", "admin"))
        self.flush_log()  # this process's queued 'verified' events belong in the timeline
        subjects = [record.leaf] + ([record.root] if record.root else [])
        own = self.indexer.events_of(record.issuer, subjects)
        # what stands behind it: its type in the catalogue, its issuer's authorization for
        # that type, the issuer's registration and keys (each in chain order)
        type_code = str(record.document.values()["type.code"])
        context = timeline_context.context_events(
            self.indexer.authorization_events(record.issuer, type_code)
            + self.indexer.issuer_events(record.issuer),
            record.issuer,
            type_code,
        )
        chain = [
            (_key_of(dt.datetime.fromtimestamp(e.timestamp, dt.UTC), 0, e.block_number,
                     e.log_index), _chain_entry(e))
            for e in own + context
        ]
        # the service's events (a 'verified' for each verification: unbounded) are read a
        # page at a time, in (time, id) order from the position asked
        query = sa.select(service_events).where(service_events.c.identifier == identifier)
        if after is not None:
            moment = dt.datetime.fromisoformat(after[0])
            later = service_events.c.created_at > moment
            if after[1] == 0:  # after a chain event: service events of that moment follow it
                query = query.where(service_events.c.created_at >= moment)
            else:
                query = query.where(sa.or_(later, sa.and_(
                    service_events.c.created_at == moment, service_events.c.id > after[2])))
        query = query.order_by(service_events.c.created_at, service_events.c.id)
        if limit is not None:
            query = query.limit(limit + 1)
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).all()
        service = [
            (_key_of(r.created_at, 1, r.id, 0), {
                "source": "service",
                "event": r.event,
                "actor": r.actor,
                "time": _iso(r.created_at),
                "detail": json.loads(r.detail),
            })
            for r in rows
        ]
        timeline = sorted(
            (item for item in chain + service if after is None or item[0] > after),
            key=lambda item: item[0],
        )
        more = limit is not None and len(timeline) > limit
        if limit is not None:
            timeline = timeline[:limit]
        return {
            "identifier": identifier,
            "status": record.status,
            "events": [{**entry, "key": key} for key, entry in timeline],
            "more": more,
            "indexed_block": self.indexer.state().indexed_block,
        }

    # ---- reading ----

    def masked(self, record: CertificateRecord) -> dict[str, Any]:
        """The record's values, the holder masked unless a legal person (:func:`holder_facts`)."""
        values = record.document.values()
        out: dict[str, Any] = {k: v for k, v in values.items() if not k.startswith("holder.")}
        return {**out, **holder_facts(values)}

    def qr_text(self, record: CertificateRecord) -> str:
        return qr.payload_for(record.document).encode()


HistoryKey = tuple[str, int, int, int]
"""An event's position in a timeline: (UTC time, 0 chain / 1 service, block or row id,
log index)."""


def _key_of(when: dt.datetime, source: int, first: int, second: int) -> HistoryKey:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when.astimezone(dt.UTC).isoformat(timespec="microseconds"), source, first, second)


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _chain_entry(event: ChainEvent) -> dict[str, Any]:
    names = {"RootAnchored": "anchored", "Superseded": "superseded"}
    name = names.get(event.name, event.name)
    if event.name == "StatusChanged":
        name = {1: "revoked", 2: "suspended", 0: "reinstated"}.get(
            int(event.args["status"]), "status"
        )
    about = "certificate"
    if event.name in timeline_context.CONTEXT_NAMES:
        about, name = timeline_context.CONTEXT_NAMES[event.name]
        detail = timeline_context.context_detail(event)
    else:
        detail = {
            k: (v.hex() if isinstance(v, bytes) else v)
            for k, v in event.args.items()
            if k not in ("issuer", "by")
        }
    when = dt.datetime.fromtimestamp(event.timestamp, dt.UTC)
    return {
        "source": "chain",
        "about": about,
        "event": name,
        "block": event.block_number,
        "tx_hash": event.tx_hash,
        "time": _iso(when),
        "detail": detail,
    }


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
