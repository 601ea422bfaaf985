"""REST requests as the fake records them, and the table that maps paths to route templates.

Route templates are spelled exactly as discord.py's ``Route.path`` spells them
(``/channels/{channel_id}/messages``, ``/interactions/{webhook_id}/{webhook_token}/callback``),
so a test can name a route the way the library's source does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

#: A route to match: ``"POST /channels/{channel_id}/messages"`` (method and template), a bare
#: template (any method), ``"*"`` (everything), or a predicate over the request.
RouteSpec = str | Callable[["ApiRequest"], bool]


class ApiError(Exception):
    """Raise from a handler to answer Discord's JSON error ``{"code", "message"[, "errors"]}``."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass(frozen=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ApiRequest:
    """One REST request: `route` is the template it matched ("" if none), `params` the values
    of the template's placeholders, `json` the JSON body (for multipart, the parsed
    ``payload_json``), `headers` with lower-cased names."""

    method: str
    route: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: tuple[UploadedFile, ...]
    headers: dict[str, str]

    @property
    def key(self) -> str:
        """``"POST /channels/{channel_id}/messages"``."""
        return f"{self.method} {self.route or self.path}"

    @property
    def reason(self) -> str | None:
        """The audit-log reason (``X-Audit-Log-Reason``), decoded."""
        value = self.headers.get("x-audit-log-reason")
        return None if value is None else unquote(value)

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body as a dict ({} when absent or not an object)."""
        return self.json if isinstance(self.json, dict) else {}

    @property
    def message_body(self) -> dict[str, Any]:
        """The message part: ``data`` of an interaction callback, else the body itself."""
        body = self.body
        if self.route.endswith("/callback"):
            data = body.get("data")
            return data if isinstance(data, dict) else {}
        return body

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        return self.message_body.get("allowed_mentions")

    @property
    def flags(self) -> int:
        return int(self.message_body.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & (1 << 6))


@dataclass(frozen=True)
class Call(ApiRequest):
    """A recorded request with the status and JSON body the fake answered."""

    status: int = 0
    response: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def matches(spec: RouteSpec, req: ApiRequest) -> bool:
    """Whether `req` is what `spec` names (see :data:`RouteSpec`)."""
    if callable(spec):
        return bool(spec(req))
    if spec == "*":
        return True
    method, _, template = spec.partition(" ")
    if not template:
        return spec in (req.route, req.path)
    return method.upper() == req.method and template in (req.route, req.path)


Handler = Callable[[ApiRequest], Any]


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    segments: tuple[str, ...]
    handler: Handler

    @property
    def specificity(self) -> tuple[bool, ...]:
        """Literal segments win over placeholders (``@original`` over ``{message_id}``)."""
        return tuple(not s.startswith("{") for s in self.segments)


class RouteTable:
    """Maps ``(method, path)`` to a handler and the route template it matched."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        segments = tuple(template.strip("/").split("/"))
        self._routes = [
            r for r in self._routes if not (r.method == method and r.template == template)
        ]
        self._routes.append(_Route(method, template, segments, handler))
        self._routes.sort(key=lambda r: r.specificity, reverse=True)

    def remove(self, method: str, template: str) -> None:
        self._routes = [
            r for r in self._routes if not (r.method == method and r.template == template)
        ]

    def resolve(
        self, method: str, raw_path: str
    ) -> tuple[str, dict[str, str], Handler | None] | None:
        """(template, params, handler) for a raw (still percent-encoded) path; handler None
        when the path exists for other methods only; None when no template fits."""
        parts = [unquote(p) for p in raw_path.strip("/").split("/")]
        path_match: tuple[str, dict[str, str]] | None = None
        for route in self._routes:
            params = _bind(route.segments, parts)
            if params is None:
                continue
            if route.method == method:
                return route.template, params, route.handler
            path_match = path_match or (route.template, params)
        if path_match is not None:
            return path_match[0], path_match[1], None
        return None


def _bind(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    if len(segments) != len(parts):
        return None
    params: dict[str, str] = {}
    for segment, part in zip(segments, parts, strict=True):
        if segment.startswith("{"):
            if not part:
                return None
            params[segment[1:-1]] = part
        elif segment != part:
            return None
    return params
