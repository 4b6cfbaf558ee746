"""The team's side: ``simcontinuum submit`` and ``simcontinuum status`` over HTTP.

Standard library only (``urllib``), so a team needs nothing beyond simcontinuum itself.
Every failure is a :class:`ClientError` with what the server (or the network) said.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from simcontinuum.errors import SimContinuumError


class ClientError(SimContinuumError):
    """The server refused the request, or could not be reached.

    Attributes:
        status: the HTTP status (0: no answer).
    """

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _request(
    url: str,
    token: str,
    *,
    data: bytes | None = None,
    content_type: str | None = None,
    method: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    method = method or ("POST" if data else "GET")
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body: Any = json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raw = exc.read().decode("utf-8", "replace")
        try:
            detail = json.loads(raw).get("error", raw)
        except (ValueError, AttributeError):
            detail = raw.strip()[:300]
        raise ClientError(f"the server answered {exc.code}: {detail}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ClientError(f"cannot reach {url}: {reason}; check --server") from None
    except ValueError:
        raise ClientError(
            f"{url}: the answer is not JSON; is --server a competition server?"
        ) from None
    if not isinstance(body, dict):
        raise ClientError(f"{url}: unexpected answer {body!r}")
    return body


def _base(server: str) -> str:
    if not server.startswith(("http://", "https://")):
        raise ClientError(f"--server {server}: give a URL, e.g. http://127.0.0.1:8000")
    return server.rstrip("/")


def submit(path: str | Path, server: str, token: str) -> dict[str, Any]:
    """Upload the policy file ``path``; returns the server's answer (``position``, ...).

    Raises:
        ClientError: a missing file, a refused upload (its reason), or no server.
    """
    p = Path(path)
    try:
        content = p.read_bytes()
    except OSError as exc:
        raise ClientError(f"{p}: cannot read the policy file ({exc.strerror})") from None
    boundary = f"simcontinuum-{secrets.token_hex(12)}"
    name = p.name.replace('"', "_").replace("\r", "_").replace("\n", "_")
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="policy"; filename="{name}"\r\n'
            "Content-Type: text/x-python\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return _request(
        f"{_base(server)}/api/submissions",
        token,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def status(server: str, token: str) -> dict[str, Any]:
    """Every job of the token's team: ``{"team": ..., "jobs": [...]}``.

    Raises:
        ClientError: a refused token or no server.
    """
    return _request(f"{_base(server)}/api/submissions", token)


def select(server: str, token: str, submission_id: int, final: bool = True) -> dict[str, Any]:
    """Mark a submission of the token's team final for the private board (``final=False``:
    unmark it); returns ``{submission, final, selected, limit, automatic, locked}``.

    Raises:
        ClientError: not the team's submission (404), the limit reached or the selection
            locked (409), a refused token or no server.
    """
    return _request(
        f"{_base(server)}/api/submissions/{int(submission_id)}/final",
        token,
        method="POST" if final else "DELETE",
    )


def job(server: str, token: str, job_id: int) -> dict[str, Any]:
    """One job's run report (per-scenario scores where the phase shows them)."""
    return _request(f"{_base(server)}/api/jobs/{int(job_id)}", token)


__all__ = ["ClientError", "job", "select", "status", "submit"]
