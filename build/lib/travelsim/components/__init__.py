"""Reusable Reflex components (layout, cards, gauges)."""
