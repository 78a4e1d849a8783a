"""Accessible gauges (plain SVG rings) and a client-side ticking countdown.

Each gauge is a ``role="meter"`` with ``aria-valuenow``/``aria-valuetext`` and a visible
text equivalent, so its meaning never depends on the drawing. Unknown values draw an
empty grey ring and say "unknown" (never 0).

Texts are the caller's, in the page's language: the meter's name (``label``) is translated
when the page is built, its value text comes translated from the state
(docs/i18n.md#texts-made-at-run-time). The countdown's pattern for days is translated when
the page is built and handed to the browser, so the script holds no English.
"""

from __future__ import annotations

import math
from typing import Any

import reflex as rx
from reflex.vars.base import Var

from travelsim.i18n import _


class Countdown(rx.Component):
    """Ticks every second in the browser until ``target`` (ISO 8601 UTC): "3 d 04:05:06".

    ``days_format`` holds ``{days}`` and ``{time}`` (``"{days} d {time}"`` in English): the
    text while a day or more is left; under a day only the ``HH:MM:SS`` time shows."""

    tag = "TravelsimCountdown"
    target: Var[str]
    days_format: Var[str]

    def add_imports(self) -> dict[str, Any]:
        return {"react": ["useState", "useEffect"]}

    def _get_custom_code(self) -> str | None:
        return """
function TravelsimCountdown({ target, daysFormat }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const end = Date.parse(target || "");
  if (Number.isNaN(end)) return null;
  let s = Math.max(0, Math.floor((end - now) / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const pad = (n) => String(n).padStart(2, "0");
  const time = pad(h) + ":" + pad(m) + ":" + pad(s);
  const text = d > 0 ? String(daysFormat).replace("{days}", d).replace("{time}", time) : time;
  return <span data-testid="countdown" aria-live="off">{text}</span>;
}
"""


def countdown(*, target: Var[str] | str) -> rx.Component:
    """A :class:`Countdown` to ``target`` with the days pattern in the active language (call
    it while the page is built, :func:`travelsim.i18n.compiled_in`)."""
    return Countdown.create(target=target, days_format=_("{days} d {time}"))


_RADIUS = 84
_STROKE = 22
_CIRCUMFERENCE = round(2 * math.pi * _RADIUS, 2)  # 527.79
_TRACK = "rgba(127, 127, 127, 0.18)"


def radial_gauge(
    *,
    percent: Var[float] | float,
    known: Var[bool] | bool,
    label: str,
    value_text: Var[str] | str,
    center_top: rx.Component,
    center_bottom: rx.Component,
    color: str,
    testid: str,
) -> rx.Component:
    """A 0-100 ring with text in the middle; ``known=False`` draws an empty ring.
    ``label`` (the meter's accessible name) and ``value_text`` (``aria-valuetext``, what a
    screen reader says for the value) must already be in the page's language.
    ``color`` must be a literal colour (SVG attributes do not resolve CSS variables)."""
    shown = rx.cond(known, percent, 0)
    dash = rx.cond(known, percent * (_CIRCUMFERENCE / 100), 0)
    chart = rx.el.svg(
        rx.el.svg.circle(cx=95, cy=95, r=_RADIUS, fill="none", stroke=_TRACK, stroke_width=_STROKE),
        rx.el.svg.circle(
            cx=95,
            cy=95,
            r=_RADIUS,
            fill="none",
            stroke=color,
            stroke_width=_STROKE,
            stroke_linecap="round",
            stroke_dasharray=f"{dash} {_CIRCUMFERENCE}",
            stroke_opacity=rx.cond(dash > 0, 1, 0),
            # An SVG attribute (a ``transform`` prop would become CSS, where this three-number
            # rotate() is invalid and dropped): the ring starts at 12 o'clock.
            custom_attrs={"transform": "rotate(-90 95 95)"},
        ),
        width=190,
        height=190,
        view_box="0 0 190 190",
        custom_attrs={"aria-hidden": "true"},
    )
    return rx.box(
        chart,
        rx.vstack(
            center_top,
            center_bottom,
            spacing="0",
            align="center",
            position="absolute",
            top="50%",
            left="50%",
            transform="translate(-50%, -50%)",
            width="130px",
            text_align="center",
        ),
        position="relative",
        width="190px",
        height="190px",
        custom_attrs={"role": "meter"},
        aria_label=label,
        aria_valuemin=0,
        aria_valuemax=100,
        aria_valuenow=shown,
        aria_valuetext=value_text,
        data_testid=testid,
    )
