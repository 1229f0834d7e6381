"""The one place that says which HTTP status each error of the API answers with.

Every refusal is ``{"error": code, "message": text}`` (``message_zh`` beside it where the
service says it in Chinese). :data:`ERRORS` maps each code the API gives on purpose to its
status and meaning; the README's error table is this table (a test compares them). The
codes of the libraries that read uploaded files (PDF, seals, keys, certificates) are many
and fine-grained: they are answered by family (:data:`FAMILIES`). The rule of thumb:

* 400: the request could not be read (its JSON, CSV, multipart form or a header is
  malformed);
* 422: it was read, but what it says is invalid (a missing or unknown member, a wrong
  type, a value out of range, a file that is not what it should be);
* 409: the chain (or the service's state) said no;
* 5xx only when the service could not decide: 503 when the chain, the database or another
  part the service needs does not answer or is not set up (try again, or its operator must
  act), 500 for a fault of the service itself (``internal_error``, or data it stored that it
  cannot use: retrying does not help).

A 5xx answer's message is the public one of its kind (what happened, what to do), never the
error's own text, which may name a host, a port, a database user or a query: that detail
goes to the server's log.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.errors import error_code


@dataclass(frozen=True)
class ErrorKind:
    status: int
    meaning: str


ERRORS: dict[str, ErrorKind] = {
    # 400: the request cannot be read
    "bad_json": ErrorKind(400, "The body is not JSON (malformed, not UTF-8, empty, or nested "
                               "too deeply)."),
    "bad_csv": ErrorKind(400, "The CSV body cannot be read."),
    "bad_multipart": ErrorKind(400, "The multipart form cannot be read."),
    "idempotency_key_invalid": ErrorKind(400, "The Idempotency-Key header is not 1–255 "
                                              "printable ASCII characters."),
    # 401 / 403: who is asking
    "api_key_missing": ErrorKind(401, "No API key: send `Authorization: Bearer <key>`."),
    "api_key_invalid": ErrorKind(401, "The API key is unknown or revoked."),
    "wrong_role": ErrorKind(403, "The key's role may not do this (e.g. a counter key "
                                 "issuing)."),
    "wrong_agency": ErrorKind(403, "The certificate or agency is another agency's."),
    "not_your_certificate": ErrorKind(403, "A certificate in the request was issued by "
                                           "another agency."),
    "outside_scope": ErrorKind(403, "The agency or jurisdiction is outside the region this "
                                    "service's admin account governs on chain."),
    "national_admin_only": ErrorKind(403, "Only a national admin may change the catalogue."),
    "not_chain_admin": ErrorKind(403, "This service's operator account is not an admin on "
                                      "chain."),
    # 404 / 405: what is named does not exist
    "not_found": ErrorKind(404, "No such route."),
    "certificate_not_found": ErrorKind(404, "No certificate with that identifier is stored "
                                            "here."),
    "presentation_unknown": ErrorKind(404, "No such presentation code."),
    "type_not_in_catalogue": ErrorKind(404, "The certificate type is not in the catalogue on "
                                            "chain."),
    "unknown_issuer": ErrorKind(404, "The agency is not registered on chain."),
    "method_not_allowed": ErrorKind(405, "The route does not take this HTTP method."),
    # 409: it conflicts with the present state
    "cannot_revoke": ErrorKind(409, "The certificate is not active or suspended."),
    "cannot_suspend": ErrorKind(409, "The certificate is not active."),
    "cannot_reinstate": ErrorKind(409, "The certificate is not suspended."),
    "not_anchored": ErrorKind(409, "The certificate is not anchored yet: try again in a "
                                   "moment."),
    "type_exists": ErrorKind(409, "The type is already in the catalogue (revise it "
                                  "instead)."),
    "type_withdrawn": ErrorKind(409, "The type was withdrawn from the catalogue."),
    "certificate_revoked": ErrorKind(409, "The certificate was revoked: no presentation "
                                          "code is made from it."),
    "certificate_suspended": ErrorKind(409, "The certificate is suspended: no presentation "
                                            "code is made from it."),
    "certificate_superseded": ErrorKind(409, "The certificate was replaced by a new one: no "
                                             "presentation code is made from it."),
    "not_authorized": ErrorKind(409, "The agency holds no current authorization for the "
                                     "type: nothing to withdraw."),
    "contract_revert": ErrorKind(409, "The chain refused the change."),
    "tx_failed": ErrorKind(409, "The chain executed the transaction and reverted it: the "
                                "chain refused the change."),
    # 410: it was there, it is gone
    "presentation_used": ErrorKind(410, "The presentation code was already redeemed."),
    "presentation_expired": ErrorKind(410, "The presentation code is past its time."),
    # 413: too large
    "body_too_large": ErrorKind(413, "The request body is over the service's limit."),
    "batch_too_large": ErrorKind(413, "A batch has more than 100,000 rows."),
    # 429: too many
    "rate_limited": ErrorKind(429, "Too many requests from this address, or presentation "
                                   "codes for this certificate: try again after "
                                   "`Retry-After` seconds."),
    # 422: read, but invalid
    "bad_request": ErrorKind(422, "The body's shape is wrong: a member missing, unknown, "
                                  "of the wrong type or out of range (the message names it)."),
    "bad_cursor": ErrorKind(422, "The pagination cursor is not one this service gave."),
    "bad_time": ErrorKind(422, "A `from`/`to` time is not ISO 8601 (without an offset it is "
                               "read as 北京时间)."),
    "file_missing": ErrorKind(422, "The multipart form has no field named `file`."),
    "unsupported_file": ErrorKind(422, "The uploaded file is none of the kinds the service "
                                       "verifies."),
    "invalid_certificate": ErrorKind(422, "The certificate request is invalid (`errors` "
                                          "lists each problem with its field)."),
    "batch_not_list": ErrorKind(422, "A JSON batch must be a list of certificate "
                                     "requests."),
    "batch_rejected": ErrorKind(422, "No row of the batch was accepted (`rejected` lists "
                                     "each row's errors)."),
    "idempotency_key_reused": ErrorKind(422, "The Idempotency-Key was used for another "
                                             "request."),
    "unknown_reason_code": ErrorKind(422, "The reason code is not one of 0–7."),
    "unknown_action": ErrorKind(422, "The status action is unknown."),
    "no_certificate": ErrorKind(422, "No certificate identifier given."),
    "mixed_agencies": ErrorKind(422, "One request changes the certificates of one agency "
                                     "only."),
    "holder_no_certificate": ErrorKind(422, "The holder's file carries no readable "
                                            "certificate document."),
    "holder_disclosed_copy": ErrorKind(422, "The holder's file is a disclosed copy (some "
                                            "claims hidden): only the full document makes a "
                                            "presentation code."),
    "holder_document_mismatch": ErrorKind(422, "The holder's file is not the certificate "
                                               "this service holds under its identifier "
                                               "(altered, or replaced since)."),
    "certificate_invalid": ErrorKind(422, "The holder's file does not verify: no "
                                          "presentation code is made from it."),
    "purpose_required": ErrorKind(422, "A presentation needs a purpose of use (用证事由)."),
    "unknown_field": ErrorKind(422, "A field to disclose is not in the certificate."),
    "invalid_argument": ErrorKind(422, "A USCC, type code or division code is malformed."),
    "unknown_type": ErrorKind(422, "The project publishes no such certificate type."),
    "bad_date": ErrorKind(422, "A date is not YYYY-MM-DD."),
    "bad_window": ErrorKind(422, "The authorization must end after it starts, and after "
                                 "today."),
    # 503: could not decide now
    "chain_unavailable": ErrorKind(503, "The chain does not answer: try again."),
    "tx_dropped": ErrorKind(503, "The chain dropped the transaction: try again."),
    "tx_timeout": ErrorKind(503, "The transaction was not mined in time: try again."),
    "indexer_lagging": ErrorKind(503, "The service's index of the chain is behind: try "
                                      "again."),
    "database_unavailable": ErrorKind(503, "The database does not answer: try again."),
    "devnet_not_running": ErrorKind(503, "The development chain is not running: its "
                                         "operator must start it."),
    "authorization_unchecked": ErrorKind(503, "The issuer's authorization could not be "
                                              "checked now: try again."),
    "not_deployed": ErrorKind(503, "No contracts are recorded for the chain the service "
                                   "reads: its operator must deploy them."),
    "operator_key_missing": ErrorKind(503, "The operator key that sends catalogue and "
                                           "authorization changes is missing: its operator "
                                           "must install it."),
    "bad_rpc_url": ErrorKind(503, "The chain's URL in the service's configuration is "
                                  "malformed: its operator must correct it."),
    "verification_unavailable": ErrorKind(503, "The holder's file could not be verified now "
                                               "(the chain or the index is not available): "
                                               "try again."),
    "sm2_unavailable": ErrorKind(503, "The service has no SM2 implementation installed: its "
                                      "operator must install it."),
    # 500
    "internal_error": ErrorKind(500, "A fault of the service (logged; no detail is given)."),
    "batch_tree_missing": ErrorKind(500, "The service's stored data lacks a batch's Merkle "
                                         "tree (a fault of the service, logged: retrying "
                                         "does not help)."),
    "batch_position_missing": ErrorKind(500, "The service's stored data lacks a "
                                             "certificate's position in its batch (a fault "
                                             "of the service, logged: retrying does not "
                                             "help)."),
    "stored_leaf_malformed": ErrorKind(500, "A certificate digest the service stored is "
                                            "damaged (a fault of the service, logged: "
                                            "retrying does not help)."),
}
"""Error code → HTTP status and meaning: each code has one status on every route."""


@dataclass(frozen=True)
class Family:
    prefix: str
    status: int
    meaning: str


FAMILIES: tuple[Family, ...] = (
    Family("pdf_", 422, "The PDF cannot be sealed (malformed, encrypted, too large or "
                        "hostile)."),
    Family("ofd_", 422, "The OFD file cannot be sealed (malformed, encrypted, too large, "
                        "hostile, or the place asked for does not allow a seal)."),
    Family("ses_", 422, "The seal data is malformed."),
    Family("seal_", 422, "The seal cannot be used (its data, picture, validity or keys)."),
    Family("sm2_", 422, "An SM2 key or signature is unusable."),
    Family("cert_", 422, "An X.509 certificate is unusable."),
    Family("key_", 422, "A key file is unusable."),
    Family("merkle_", 422, "A Merkle proof or tree is malformed."),
    Family("document_", 422, "A certificate document is malformed or unsupported."),
    Family("tx_", 503, "The chain did not take a transaction: try again."),
)
"""Codes answered by family (the libraries' fine-grained codes), by prefix."""


def kind_of(exc: BaseException) -> tuple[str, int]:
    """The code and HTTP status of an error raised while answering a request: its code's
    own, else (for the parts the service runs on, whatever their code) its class's, else
    its family's, else its class's."""
    code = error_code(exc)
    if code in ERRORS:
        return code, ERRORS[code].status
    service_side = _service_side(exc)
    if service_side is not None:
        return code, service_side
    for family in FAMILIES:
        if code.startswith(family.prefix):
            return code, family.status
    return code, _status_by_class(exc)


def _service_side(exc: BaseException) -> int | None:
    """The status of an error of what the service runs on, by its class: the chain refused
    (409), the chain, the database, the development chain or the SM2 implementation could
    not be used (503), the service's own contract artefacts are broken (500); ``None`` for
    the other classes."""
    from certs.store import StoreError
    from chain.errors import ArtefactError, ChainError, ContractRevert, TransactionFailed
    from devnet.errors import DevnetError
    from seals.errors import Sm2Unavailable
    from verifier.index.indexer import IndexerLagging

    if isinstance(exc, ContractRevert | TransactionFailed):
        return 409
    if isinstance(exc, ArtefactError):
        return 500
    if isinstance(exc, ChainError | IndexerLagging | StoreError | DevnetError | Sm2Unavailable):
        return 503
    return None


def _status_by_class(exc: BaseException) -> int:
    """Codes in neither table, of no class of :func:`_service_side`: the input-error roots
    (certificates, seals, the verifier's edge) are bad input (422); anything else is a
    fault (500)."""
    from certs.errors import CertError
    from seals.errors import SealError
    from verifier.errors import VerifierError

    if isinstance(exc, CertError | SealError | VerifierError):
        return 422
    return 500


def public_message(code: str, exc: BaseException) -> str:
    """What a 5xx answer says (what happened, what to do): its code's meaning, or its
    kind's; never the error's own text (a host, a port, a database user, a query)."""
    if code in ERRORS:
        return ERRORS[code].meaning
    from certs.store import StoreError
    from chain.errors import ChainError
    from devnet.errors import DevnetError

    if isinstance(exc, StoreError):
        return "The database does not answer: try again."
    if isinstance(exc, DevnetError):
        return "The development chain cannot be used: its operator must check it."
    if isinstance(exc, ChainError):
        return "The chain did not answer as expected: try again."
    return "The service could not decide now: try again, or tell its operator."


def status_of(exc: BaseException) -> int:
    return kind_of(exc)[1]
