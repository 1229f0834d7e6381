"""The local chain: anvil started and stopped by the CLI, and the deployment record."""
