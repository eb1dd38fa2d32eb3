"E-mail over SMTP: accepted by the server counts as sent."
import dataclasses
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from .errors import ConfigError, DeliveryError


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int | None
    sender: str | None
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 30

    def check(self):
        if not self.host:
            raise ConfigError('no_smtp_host', 'no SMTP host is configured')
        if not self.sender:
            raise ConfigError('no_sender',
                'no sender address (From) is configured')


def message(sender, recipient, subject, text):
    "The e-mail; its Message-ID is what the server's log knows it by."
    mail = EmailMessage()
    mail['From'] = sender
    mail['To'] = recipient
    mail['Subject'] = subject
    mail['Message-ID'] = make_msgid(domain=sender.rpartition('@')[2] or None)
    mail.set_content(text)
    return mail


class Mailer:
    """One SMTP connection for many messages, opened on the first one.
    Use as a context manager."""

    def __init__(self, settings):
        settings.check()
        self.settings = settings
        self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.server is not None:
            try:
                self.server.quit()
            except smtplib.SMTPException:
                pass
            self.server = None

    def _connect(self):
        settings = self.settings
        server = smtplib.SMTP(settings.host, settings.port or 25,
            timeout=settings.timeout)
        if settings.starttls:
            server.starttls()
        if settings.user:
            server.login(settings.user, settings.password or '')
        return server

    def send(self, recipient, subject, text):
        """Hand one message to the server; returns its Message-ID. A refusal
        raises DeliveryError with the server's answer."""
        mail = message(self.settings.sender, recipient, subject, text)
        try:
            if self.server is None:
                self.server = self._connect()
            refused = self.server.send_message(mail)
        except (smtplib.SMTPException, OSError) as error:
            # The connection may be unusable after an error: start afresh.
            self.__exit__()
            raise DeliveryError(f'SMTP: {error}') from error
        if refused:
            raise DeliveryError(f'SMTP refused {refused}')
        return mail['Message-ID']
