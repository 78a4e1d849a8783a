"""Simulated BICS "SIM for Things" (SFT) platform: one Enterprise account, over HTTP.

A standalone product: it imports nothing from the rest of ``travelsim``. Public API::

    from travelsim.sft_simulator import create_app, SimulatorConfig
    app = create_app(SimulatorConfig(db_path=Path("sim.db")))   # a Starlette ASGI app

``create_app`` opens (and on first start seeds) the SQLite file synchronously, so the app
works in-process through ``httpx.ASGITransport`` (which runs no lifespan events) as well as
under uvicorn (``python -m travelsim.sft_simulator serve --port 8040``). The
:class:`~travelsim.sft_simulator.app.Simulator` behind an app is ``app.state.simulator``;
``Simulator.controls_app`` serves the ``/_sim/`` controls alone.

Every rule (wire format, the decisions the platform leaves open, the add-on life model, the
seed inventory, controls and fault kinds) is stated in ``docs/simulator.md``; start at
``docs/simulator.md#decisions-the-platform-leaves-open``.
"""

from .app import Simulator, create_app
from .config import SimulatorConfig

__all__ = ["Simulator", "SimulatorConfig", "create_app"]
