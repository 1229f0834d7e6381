"""The HTTP service (FastAPI): routers per resource, gathered by :func:`app.create_app`."""
