"""Lodestar on Discord (discord.py 2): slash commands, reactions, the context menu,
card buttons and DMs, on the shared adapter plumbing in ``adapters.common``."""
