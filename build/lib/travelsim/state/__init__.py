"""Reflex states: thin, call services, hold view models."""
