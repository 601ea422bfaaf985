"""What Lodestar says unasked: the daily digest, the weekly chart, alerts, and the
outbox's notices. The logic is here; the process that runs it on a clock
(``lodestar scheduler``, ``lodestar run``) only wires it to APScheduler."""
