"""Configuration of the SFT simulator (environment prefix ``SFT_SIM_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ExpiryShape = Literal["http401", "http200"]
#: ``documented``: answer in the shapes the public SFT pages (or public production clients)
#: show; ``legacy``: the portal's own older guesses, kept so the client's tolerance of them and
#: ``sft check``'s "answered differently" report can be tested (docs/simulator.md#answer-shapes).
Shapes = Literal["documented", "legacy"]


class SimulatorConfig(BaseSettings):
    """Settings of one simulated SFT account.

    Every field can be set from the environment with the ``SFT_SIM_`` prefix, e.g.
    ``SFT_SIM_DB_PATH=/tmp/sim.db``, ``SFT_SIM_RATE_LIMIT_TPS=5``.
    """

    model_config = SettingsConfigDict(env_prefix="SFT_SIM_", extra="ignore", case_sensitive=False)

    db_path: Path = Field(
        Path(".data/sft_simulator.db"),
        description="SQLite file holding the simulator state (created on first start).",
    )
    seed_esims: int = Field(200, ge=0, le=10_000, description="eSIMs seeded into an empty DB.")
    seed: int = Field(42, description="random.Random seed for the inventory (deterministic).")
    rate_limit_tps: float = Field(
        2.0, ge=0, description="Account budget in requests/second; 0 disables the limit."
    )
    rate_limit_burst: float | None = Field(
        None, gt=0, description="Token-bucket capacity; default max(1, rate_limit_tps)."
    )
    rating_delay_seconds: float = Field(
        0.0, ge=0, description="Simulator-clock seconds before recorded usage becomes visible."
    )
    access_token_ttl_seconds: float = Field(900, gt=0, description="Access token lifetime.")
    refresh_token_ttl_seconds: float = Field(86_400, gt=0, description="Refresh token lifetime.")
    username: str = "demo"
    password: str = "demo"
    account_id: str = Field("41094429", description="The one simulated Enterprise account.")
    smdp_address: str = Field("smdp.sim.local", description="SM-DP+ FQDN in activation codes.")
    expiry_shape: ExpiryShape = Field(
        "http200",
        description="Expired/invalid token answer: HTTP 200 (default: the shape production code "
        "shows, docs/sft-platform.md#token-expiry) or HTTP 401, same body.",
    )
    shapes: Shapes = Field(
        "documented",
        description="Answer shapes: documented (default) or legacy (the portal's older guesses).",
    )
    timeout_after_commit_default_seconds: float = Field(
        200.0, ge=0, description="Default sleep of the timeout_after_commit fault."
    )
    callback_url: str | None = Field(
        None, description="Where to POST CallBackNotification batches (unset: no callbacks)."
    )
    callback_token: str | None = Field(
        None, description="Sent as X-Authorization: Bearer <token> with every batch."
    )
    callback_interval_seconds: float = Field(60.0, gt=0, description="Seconds between batches.")
    callback_max_events: int = Field(800, ge=1, le=800, description="Events per POST at most.")

    @property
    def bucket_capacity(self) -> float:
        """Token-bucket capacity actually used by the rate limiter."""
        if self.rate_limit_burst is not None:
            return self.rate_limit_burst
        return max(1.0, self.rate_limit_tps)
