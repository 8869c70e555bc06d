"""Postroom config API: health, items and accounts over HTTP (FastAPI)."""
