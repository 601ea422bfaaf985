"""Lodestar on Slack: slack-bolt listeners that translate Slack into core calls and back."""
