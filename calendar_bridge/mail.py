"""Telling people: mail to the booking user and, on failures, to the admins (standard library SMTP).

A mail that cannot be sent is logged and counted; it never stops the run.
"""

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

log = logging.getLogger(__name__)


class Mailer:
    """Sends through the ``smtp`` section of the configuration; no host: mail is off."""

    def __init__(self, smtp):
        self.smtp = smtp
        self.sent = 0
        self.failed = 0

    def send(self, recipients, subject, body):
        recipients = sorted({r for r in recipients if r})
        if not recipients:
            return False
        if not self.smtp.host:
            log.info("mail is off (no smtp.host): not sending %r to %s", subject, recipients)
            return False
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="jetson-farm")
        message.set_content(body)
        try:
            with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout) as server:
                if self.smtp.starttls:
                    server.starttls()
                if self.smtp.username:
                    server.login(self.smtp.username, self.smtp.password)
                server.send_message(message)
        except (smtplib.SMTPException, OSError) as err:
            self.failed += 1
            log.warning("cannot send %r to %s via %s:%s: %s", subject, recipients, self.smtp.host,
                        self.smtp.port, err)
            return False
        self.sent += 1
        return True


def compose(status, booking_text, reason, ssh_line, slot):
    """``(subject, body)`` telling a user what became of their booking."""
    if status == "ready":
        return (f"[jetson-farm] ready: {booking_text}",
                f"Your booking {booking_text} ({slot}) is ready"
                + (f": the board runs {reason[3:]}" if reason.startswith("on ") else "")
                + ".\n\nReach the board with:\n\n"
                f"    {ssh_line}\n")
    return (f"[jetson-farm] {status}: {booking_text}",
            f"Your booking {booking_text} ({slot}) is {status}:\n\n    {reason}\n\n"
            "Edit the event in your calendar to try again.\n")


def compose_admin(status, booking_text, reason, slot):
    return (f"[jetson-farm] board {status}: {booking_text}",
            f"The booking {booking_text} ({slot}) is {status}:\n\n    {reason}\n\n"
            "See `salt-run jetson.status` and the switch's job on the master.\n")
