"""Integration-test fixtures (simulator fixtures live in sim_fixtures.py)."""

from sim_fixtures import sim_api, sim_server, sim_server_factory

__all__ = ["sim_api", "sim_server", "sim_server_factory"]
