"""Everything that talks to the chain: JSON-RPC, contract ABIs, transactions, events.

The only package that touches Ethereum libraries (eth-abi, eth-account, eth-utils from the
web3.py project); the rest of the project sees the small typed client of `chain.registry`.
"""
