"""What every chat adapter needs, written once: the core off the event loop with the
ack path first, work after the ack, re-delivery de-duplication, the outbox loop,
and the delivery of replies (``ChatAdapter``). A platform adapter subclasses
``ChatAdapter`` and only translates."""
