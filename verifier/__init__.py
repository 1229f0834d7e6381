"""The top layer: verification, the HTTP service and the ``zhengyin`` CLI."""
