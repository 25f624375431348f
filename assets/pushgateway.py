"""Push gauges to a Prometheus Pushgateway with its plain-text protocol over HTTP.

A batch job cannot be scraped (it is gone before Prometheus comes by), so it pushes its
gauges to a Pushgateway that Prometheus scrapes instead. The protocol is one HTTP request
of the text exposition format to ``/metrics/job/<job>/<label>/<value>...`` (the group):
``PUT`` replaces every metric of that group, so a group always holds exactly the latest
run; ``POST`` replaces only the metrics it names, so a metric pushed now and then (the
time of the last success) stays beside those pushed every time.

Credentials in the URL (``https://user:password@host``) are sent as HTTP basic auth,
percent-decoded (a password holding ``/`` is written ``%2F``), and never appear in errors
or logs: messages name the URL without them, and a refused push by its status alone,
since what the server answered may echo the request and its ``Authorization`` header
(:func:`orchestration.redaction.status_words`). A URL whose password holds a raw ``/``,
``?`` or ``#`` cannot be read (its host part ends early, so the "port" is part of the
password): it is refused in words that repeat none of it (:func:`gateway_problem`).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from orchestration.errors import ExpectedError
from orchestration.redaction import quiet_request_logs, redact_url, status_words, url_problem

PUSH_TIMEOUT_SECONDS = 10.0
#: The setting that names the gateway, as errors call it.
PUSHGATEWAY_ENV = "PUSHGATEWAY_URL"
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class PushgatewayError(ExpectedError, RuntimeError):
    """The Pushgateway could not be reached or refused the push."""


@dataclass(frozen=True)
class Gauge:
    """One gauge sample: a metric name, its help text, its value and its own labels
    (beside the group's, which the gateway adds to every sample of the group)."""

    name: str
    value: float
    help: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _METRIC_NAME.match(self.name):
            raise ValueError(f"invalid Prometheus metric name {self.name!r}")
        _check_label_names(self.labels)


def _check_label_names(labels: Mapping[str, str]) -> None:
    for label in labels:
        if not _LABEL_NAME.match(label):
            raise ValueError(f"invalid Prometheus label name {label!r}")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label_value(text: str) -> str:
    return _escape_help(text).replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    """``{name="value",...}`` (empty without labels), values escaped as the format says."""
    if not labels:
        return ""
    pairs = ",".join(f'{name}="{_escape_label_value(value)}"' for name, value in labels.items())
    return f"{{{pairs}}}"


def exposition(gauges: Sequence[Gauge]) -> str:
    """The gauges in Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []
    for gauge in gauges:
        if gauge.help:
            lines.append(f"# HELP {gauge.name} {_escape_help(gauge.help)}")
        lines.append(f"# TYPE {gauge.name} gauge")
        lines.append(f"{gauge.name}{_labels(gauge.labels)} {_format_value(gauge.value)}")
    return "\n".join(lines) + "\n"


def _path_segment(name: str, value: str) -> str:
    """``name/value`` for the grouping path; values with ``/`` (or empty) go base64."""
    if not value or "/" in value:
        encoded = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
        return f"{name}@base64/{encoded or '='}"
    return f"{name}/{quote(value, safe='')}"


def gateway_url(gateway: str) -> str:
    """``gateway`` with ``http://`` when it has no scheme: ``host:port`` is the form
    prometheus_client documents (and accepts), so users write it."""
    gateway = gateway.strip()
    return gateway if "://" in gateway else f"http://{gateway}"


def gateway_problem(gateway: str) -> str | None:
    """Why ``gateway`` cannot be read as a URL, in words that repeat none of it (it may
    hold a password); None if it can be."""
    return url_problem(gateway_url(gateway), PUSHGATEWAY_ENV)


def shown_gateway(gateway: str) -> str:
    """The gateway's URL as the user set it, safe to print: no password, query or
    fragment. Errors name it, not a group's URL: the user never wrote that path
    (``.../metrics/job/online_retail/warehouse@base64/Y2hk...``), and it told them
    nothing about what to check."""
    parts = urlsplit(gateway_url(gateway))
    path = parts.path.rstrip("/")
    return redact_url(urlunsplit(parts._replace(path=path, query="", fragment="")))


def group_url(gateway: str, job: str, grouping: Mapping[str, str]) -> tuple[str, str]:
    """The push URL without credentials, and the same URL redacted for messages."""
    _check_label_names(grouping)
    gateway = gateway_url(gateway)
    parts = urlsplit(gateway)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushgatewayError(
            f"{PUSHGATEWAY_ENV} must be host:port or an http(s) URL such as "
            f"http://localhost:9091, "
            f"got {redact_url(gateway)!r}"
        )
    segments = [_path_segment("job", job)]
    segments += [_path_segment(name, value) for name, value in grouping.items()]
    base = parts.path.rstrip("/")
    group = "/metrics/" + "/".join(segments)
    host = parts.netloc.rsplit("@", 1)[-1]  # without user:password
    plain = urlunsplit((parts.scheme, host, base + group, "", ""))
    # The group's path is added once the gateway's URL is redacted: a base64 segment is
    # ``label@base64/...``, and an ``@`` past the host reads as a password cut short,
    # which made every such URL "<unreadable URL>" in messages and ``pushed_to``.
    return plain, shown_gateway(gateway) + group


def push(
    gateway: str,
    job: str,
    grouping: Mapping[str, str],
    gauges: Sequence[Gauge],
    *,
    replace: bool = True,
    timeout: float = PUSH_TIMEOUT_SECONDS,
) -> str:
    """Replace the group's metrics on the Pushgateway (``replace=False``: only those named
    by ``gauges``, the others in the group stay); returns the redacted group URL.

    Raises :class:`PushgatewayError` naming the gateway's (redacted) URL when it cannot
    be reached or answers with an error status.
    """
    import httpx  # only a run that pushes needs it (~0.15 s to import)

    quiet_request_logs()
    problem = gateway_problem(gateway)
    if problem is not None:
        raise PushgatewayError(problem)
    url, pushed_to = group_url(gateway, job, grouping)
    shown = shown_gateway(gateway)
    parts = urlsplit(gateway_url(gateway))
    auth = (
        httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))
        if parts.username is not None
        else None
    )
    try:
        response = httpx.request(
            "PUT" if replace else "POST",
            url,
            content=exposition(gauges).encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
            auth=auth,
            timeout=timeout,
        )
    except httpx.InvalidURL as exc:  # no HTTPError; its words quote the URL's parts
        raise PushgatewayError(
            f"the Pushgateway URL {shown} cannot be used: httpx refuses it (InvalidURL; "
            f"check {PUSHGATEWAY_ENV}, or unset it to skip pushing)"
        ) from exc
    except httpx.HTTPError as exc:
        raise PushgatewayError(
            f"cannot reach the Pushgateway at {shown}: {type(exc).__name__}: {exc or 'no answer'}"
            f" (check {PUSHGATEWAY_ENV}, or unset it to skip pushing)"
        ) from exc
    if response.status_code >= 300:
        raise PushgatewayError(
            f"the Pushgateway at {shown} refused the push: {status_words(response.status_code)} "
            "(its answer is not shown: it may echo the request's credentials; check "
            f"{PUSHGATEWAY_ENV}, or unset it to skip pushing)"
        )
    return pushed_to
