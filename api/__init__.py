"""The Evidence Hub's HTTP API and web page (FastAPI, Jinja templates): :func:`create_app`."""

from api.app import create_app

__all__ = ["create_app"]
