"""Adapters: one package per outside system (gov_axis, post_ems, bank, agency …).

Each imports only the core's public surface (hub.spi, hub.problems, hub.servers)."""
