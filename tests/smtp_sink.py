"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives."""

import email
import email.policy
import threading

from aiosmtpd.controller import Controller

from tests.caldav_servers import free_port


class _Keeper:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append({"to": list(envelope.rcpt_tos), "from": envelope.mail_from,
                                  "subject": str(message["Subject"]),
                                  "body": message.get_body(("plain",)).get_content()})
        return "250 OK"


class SmtpSink:
    """``with SmtpSink() as sink:`` then ``sink.port`` and ``sink.messages``."""

    def __init__(self):
        self.port = free_port()
        self._keeper = _Keeper()
        self._controller = Controller(self._keeper, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self):
        with self._keeper.lock:
            return list(self._keeper.messages)

    def to(self, address):
        return [m for m in self.messages if address in m["to"]]

    def clear(self):
        with self._keeper.lock:
            self._keeper.messages.clear()

    def __enter__(self):
        self._controller.start()
        return self

    def __exit__(self, *exc):
        self._controller.stop()
