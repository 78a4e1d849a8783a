"""Starlette routes mounted on the Reflex backend through ``api_transformer``."""
