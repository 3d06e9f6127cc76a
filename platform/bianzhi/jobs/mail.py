"""Job `mail`: the e-mail copy of a notification (queued by notifications.operations)."""
from ..notifications import mail


def send(payload, checkpoint):
    mail.send(payload)
