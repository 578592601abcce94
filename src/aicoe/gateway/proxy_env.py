"""Outbound proxy settings from the environment: which proxy, if any, the upstream client goes through to an origin.

Variables and precedence are urllib's (``urllib.request.getproxies_environment``): ``<scheme>_proxy`` in any
letter case, the all-lower-case spelling winning (set but empty, it unsets the others); upper-case ``HTTP_PROXY``
is ignored when ``REQUEST_METHOD`` is set (CGI, CVE-2016-1000110). An https origin uses ``https_proxy``, an http
origin ``http_proxy``, either falling back to ``all_proxy``. A value without a scheme is an http proxy
(``proxy:3128``), as in curl and httpx; the port defaults to 80 (http) or 443 (https); credentials in the URL
(percent-decoded) are sent as ``Proxy-Authorization: Basic``. Only ``http://`` and ``https://`` proxies are
supported: any other scheme (``socks5://``...) or a malformed URL makes the proxy *unusable*, and requests that
would go through it fail rather than silently going direct.

``no_proxy`` (same precedence) is a comma-separated list; an origin matching any entry goes direct:

- ``*`` anywhere in the list: every origin;
- a domain, with or without a leading ``.`` or ``*.``: that name and its subdomains (``example.com`` and
  ``.example.com`` both match ``example.com`` and ``api.example.com``, not ``badexample.com``); case and a
  trailing dot are ignored;
- an IP address (IPv6 bare or in brackets): that address, written as an IP in the URL;
- a CIDR range (``10.0.0.0/8``, ``fd00::/8``): IP-address origins in it (names are not resolved);
- any of these but ``*`` followed by ``:port`` (in brackets for IPv6: ``[::1]:8080``, ``[fd00::/8]:443``): only
  origins on that port.

This is a superset of urllib's rules (which know neither CIDR ranges nor ``*`` within a list) and matches curl's
and Go's, except that a leading dot does not exclude the domain itself (as in urllib and curl).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SUPPORTED_SCHEMES = ("http", "https")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ProxyURL:
    """One configured proxy; ``unusable`` says why requests through it must fail (never its credentials)."""

    variable: str  # the environment variable it came from, for messages
    scheme: str
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization value when the URL has credentials
    unusable: str | None = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def environment_proxies(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``scheme -> (variable, value)`` for the ``*_proxy`` variables, with urllib's precedence rules."""
    found: dict[str, tuple[str, str]] = {}
    lower_case: list[tuple[str, str, str]] = []
    for name, value in environ.items():
        if len(name) > 5 and name[-6] == "_" and name[-5:].lower() == "proxy":
            key = name[:-6].lower()
            if value:
                found[key] = (name, value)
            if name[-6:] == "_proxy":
                lower_case.append((name, value, key))
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    for name, value, key in lower_case:
        if value:
            found[key] = (name, value)
        else:
            found.pop(key, None)
    return found


def parse_proxy_url(variable: str, value: str) -> ProxyURL:
    """The proxy a variable names; an unusable one (unsupported scheme, no host, bad port) says why."""
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SUPPORTED_SCHEMES:
        return ProxyURL(variable, scheme, "", 0, None,
                        f"{variable} names a {scheme}:// proxy; only http:// and https:// proxies are supported")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = 0
    if not parts.hostname or not port:
        return ProxyURL(variable, scheme, "", 0, None, f"{variable} is not a valid proxy URL (host and port)")
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
    return ProxyURL(variable, scheme, parts.hostname, port, authorization)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host``/``[v6]``/``v6``, optionally with ``:port`` (not for bare IPv6, whose colons are its own)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, colon, port = entry.rpartition(":")
    if colon and port.isdigit() and ":" not in host:
        return host, int(port)
    return entry, None


class NoProxy:
    """Compiled ``no_proxy`` rules (see the module's docstring)."""

    def __init__(self, value: str) -> None:
        self.everything = False
        self.domains: list[tuple[str, int | None]] = []
        self.networks: list[tuple[IPNetwork, int | None]] = []
        for raw in value.split(","):
            entry = raw.strip().lower()
            if entry == "*":
                self.everything = True
            elif entry:
                self._add(entry)

    def _add(self, entry: str) -> None:
        host, port = _split_port(entry)
        if "/" in host:
            try:
                self.networks.append((ipaddress.ip_network(host, strict=False), port))
            except ValueError:
                pass  # neither a range nor a name: it cannot match anything
            return
        address = _ip(host)
        if address is not None:
            self.networks.append((ipaddress.ip_network(address), port))
            return
        name = host.removeprefix("*").lstrip(".").rstrip(".")
        if name:
            self.domains.append((name, port))

    def matches(self, host: str, port: int) -> bool:
        """Whether an origin (host as in a URL, without brackets) goes direct."""
        if self.everything:
            return True
        address = _ip(host)
        if address is not None:
            return any(address in network and want in (None, port) for network, want in self.networks)
        name = host.lower().rstrip(".")
        return any((name == domain or name.endswith("." + domain)) and want in (None, port)
                   for domain, want in self.domains)


class ProxySettings:
    """The proxies configured in an environment, and the rule choosing one per origin."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        found = environment_proxies(environ)
        self.by_scheme = {key: parse_proxy_url(*found[key]) for key in ("http", "https", "all") if key in found}
        self.no_proxy = NoProxy(found["no"][1] if "no" in found else "")

    @property
    def configured(self) -> bool:
        return bool(self.by_scheme)

    def unusable(self) -> list[ProxyURL]:
        return [proxy for proxy in self.by_scheme.values() if proxy.unusable is not None]

    def for_origin(self, scheme: str, host: str, port: int) -> ProxyURL | None:
        """The proxy to reach an origin through, or None to connect directly."""
        proxy = self.by_scheme.get(scheme) or self.by_scheme.get("all")
        if proxy is None or self.no_proxy.matches(host, port):
            return None
        return proxy
