"""Two status changes of one certificate from two requests (two service instances): the
database ends with the chain's status, whichever order the changes are recorded in (issue
#19), on SQLite and PostgreSQL, against a real anvil."""

from __future__ import annotations

from typing import Any, cast

from certs.issuance import IssuerProfile, issue
from certs.status import change_status, load_record
from certs.store import Store, status_changes
from chain.registry import ChainStatus, RegistryClient
from chain.transactions import TransactionReceipt
from tests.certs import test_pipeline as pipeline
from tests.certs.test_pipeline import TODAY, batcher_for, request
from tests.conftest import Issuer

# the fixtures of the pipeline's tests: a store on SQLite and on PostgreSQL, an agency
postgres_url, store, agency = pipeline.postgres_url, pipeline.store, pipeline.agency


class OvertakenOnceMined:
    """The issuer's own registry client, in which another request comes between the chain and
    the database: right after this request's suspension is mined, another instance revokes
    the certificate (on chain, mined after it) and records that first."""

    def __init__(self, real: RegistryClient, store: Store, identifier: str) -> None:
        self.real, self.store, self.identifier = real, store, identifier

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def suspend(self, issuer: str, leaf: bytes, reason: int) -> TransactionReceipt:
        receipt = self.real.suspend(issuer, leaf, reason)
        change_status(self.store, self.real, issuer, [self.identifier], "revoke",
                      reason="另一实例撤销")
        return receipt


def test_a_change_recorded_after_a_later_one_leaves_the_chains_status(
    store: Store, agency: IssuerProfile, issuer: Issuer
) -> None:
    report = issue(store, agency, [(1, request())], today=TODAY)
    batcher_for(issuer, store).run_once()
    identifier = report.accepted[0].identifier
    overtaken = OvertakenOnceMined(issuer.registry, store, identifier)
    change_status(store, cast(RegistryClient, overtaken), agency.uscc, [identifier], "suspend",
                  reason="核查")
    record = load_record(store, identifier)
    assert issuer.registry.status_of(agency.uscc, record.leaf).status is ChainStatus.REVOKED
    assert record.status == "revoked"  # not "suspended": the revocation was mined last
    with store.engine.connect() as connection:
        actions = [r.action for r in connection.execute(
            status_changes.select().where(status_changes.c.identifier == identifier)
            .order_by(status_changes.c.id))]
    assert sorted(actions) == ["revoke", "suspend"]  # both changes are in the history
