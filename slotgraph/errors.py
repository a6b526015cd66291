"""The base of the failures whose `message` is safe to show, written once: a provider's
(`slotgraph.providers.base.ProviderError`), a mail server's (`slotgraph.jobs.mail.MailError`)
and an outbox delivery's (`slotgraph.jobs.outbox.DeliveryFailure`). Such a message never
contains a token, password or response body, so it may be shown to the user and stored. It
imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations


class SafeMessageError(Exception):
    """A failure whose `message` is safe to show and store."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
