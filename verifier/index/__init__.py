"""The chain index: contract events kept in the database (:mod:`.indexer` follows the chain,
:mod:`.tables` holds the rows, :mod:`.reader` reads them), so a verification needs no RPC."""
