"""Platform adapters: they translate platform events into core calls and render replies."""
