"""Lodestar's platform-neutral core: commands, the feedback board, metrics, jobs.

Nothing here imports a chat platform's SDK; adapters translate to and from it.
"""
