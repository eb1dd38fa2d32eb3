"""SMS through an HTTP gateway: one POST of a JSON body per message, built
from a configurable template; the gateway's message id is kept to match its
delivery reports."""
import dataclasses
import json
import urllib.error
import urllib.request

from .errors import ConfigError, DeliveryError

DEFAULT_BODY = ('{"to": "{phone}", "text": "{text}", '
    '"reference": "{reference}"}')
DELIVERED = {'delivered', 'delivrd'}
FAILED = {'failed', 'undelivered', 'undeliv', 'rejected', 'rejectd',
    'expired'}
PLACEHOLDERS = ('{phone}', '{text}', '{reference}')


@dataclasses.dataclass(frozen=True)
class GatewaySettings:
    url: str | None
    token: str | None = None
    body: str = DEFAULT_BODY
    id_field: str = 'id'
    timeout: float = 15

    def check(self):
        if not self.url:
            raise ConfigError('no_gateway_url',
                'no SMS gateway URL is configured')
        if not self.url.startswith(('http://', 'https://')):
            raise ConfigError('gateway_url', f'the SMS gateway URL '
                f'{self.url!r} is not an http(s) address')
        self.template()

    def template(self):
        try:
            template = json.loads(self.body or DEFAULT_BODY)
        except ValueError as error:
            raise ConfigError('body_template',
                f'the SMS body template is not JSON: {error}') from error
        if not isinstance(template, dict):
            raise ConfigError('body_template',
                'the SMS body template must be a JSON object')
        return template


def _fill(node, fields):
    "Fill placeholders in the strings of decoded JSON (no escaping needed)."
    if isinstance(node, dict):
        return {k: _fill(v, fields) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, fields) for v in node]
    if isinstance(node, str):
        for placeholder in PLACEHOLDERS:
            node = node.replace(placeholder, fields[placeholder[1:-1]])
    return node


def body(settings, phone, text, reference):
    return _fill(settings.template(),
        {'phone': phone, 'text': text, 'reference': str(reference)})


def _field(data, path):
    for key in path.split('.'):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def send(settings, phone, text, reference):
    """Post one SMS; returns the gateway's message id. ``reference`` is
    ours, so that a gateway that keeps it can drop a repeated request."""
    headers = {'Content-Type': 'application/json; charset=utf-8',
        'Accept': 'application/json'}
    if settings.token:
        headers['Authorization'] = f'Bearer {settings.token}'
    request = urllib.request.Request(settings.url, method='POST',
        headers=headers, data=json.dumps(
            body(settings, phone, text, reference),
            ensure_ascii=False).encode('utf-8'))
    try:
        with urllib.request.urlopen(
                request, timeout=settings.timeout) as response:
            answer = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read()[:300].decode('utf-8', 'replace')
        raise DeliveryError(
            f'SMS gateway answered {error.code}: {detail}') from error
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryError(f'SMS gateway unreachable: {error}') from error
    try:
        provider_id = _field(json.loads(answer), settings.id_field)
    except ValueError:
        provider_id = None
    if provider_id in (None, ''):
        raise DeliveryError(
            f'SMS gateway answer has no "{settings.id_field}": '
            + answer[:300].decode('utf-8', 'replace'))
    return str(provider_id)


def normalise_phone(phone):
    """A Russian number as the gateways want it, 7 and ten digits, or None
    when it is not one."""
    digits = ''.join(c for c in phone or '' if c.isdigit())
    if len(digits) == 11 and digits[0] in '78':
        return '7' + digits[1:]
    if len(digits) == 10 and digits[0] == '9':
        return '7' + digits
    return None


def report_status(status):
    "A delivery report's status as 'delivered', 'failed' or None (pending)."
    status = str(status or '').strip().lower()
    if status in DELIVERED:
        return 'delivered'
    if status in FAILED:
        return 'failed'
    return None
