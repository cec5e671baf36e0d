"""URL functions as Trino has them (https://trino.io/docs/current/functions/url.html): the URL is parsed as
java.net.URI does; a string that is not a valid URI gives NULL, a valid URI without the part gives '' (the port:
NULL). Host, path, query and fragment are decoded (%XX), url_extract_parameter returns the raw value.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, unquote_plus

from localaws.athena.functions import udf

# Characters java.net.URI accepts (RFC 2396 plus the brackets of an IPv6 host); anything else makes it invalid.
_VALID = re.compile(r"^[A-Za-z0-9\-_.!~*'();/?:@&=+$,%#\[\]]*$")
_URI = re.compile(r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):)?(?P<rest>[^#]*)(?:#(?P<fragment>.*))?$")


def parse(url: str) -> dict | None:
    """{scheme, host, port, path, query, fragment} of a URI, None when java.net.URI would reject it."""
    if not _VALID.match(url) or url.count("#") > 1 or re.search(r"%(?![0-9A-Fa-f]{2})", url):
        return None
    match = _URI.match(url)
    scheme, rest, fragment = match["scheme"], match["rest"], match["fragment"]
    if scheme is not None and not rest.startswith("/"):
        if not rest:
            return None
        return {"scheme": scheme, "host": None, "port": None, "path": None, "query": None, "fragment": fragment}
    host = port = None
    if rest.startswith("//"):
        authority, slash, remainder = rest[2:].partition("/")
        rest = slash + remainder
        if "?" in authority:
            authority, _, query_part = authority.partition("?")
            rest = "?" + query_part + rest
        hostport = authority.rpartition("@")[2]
        if hostport.startswith("["):
            host, _, after = hostport.partition("]")
            host += "]"
            port_text = after[1:] if after.startswith(":") else ""
        else:
            host, _, port_text = hostport.partition(":")
        if port_text:
            if not port_text.isdigit():
                return None
            port = int(port_text)
        host = host or None
    path, question, query = rest.partition("?")
    return {
        "scheme": scheme,
        "host": host,
        "port": port,
        "path": path,
        "query": query if question else None,
        "fragment": fragment,
    }


def _part(url: str, name: str, decode: bool = True) -> str | None:
    parts = parse(url)
    if parts is None:
        return None
    value = parts[name]
    if value is None:
        return ""
    return unquote(value) if decode else value


@udf("trino_url_extract_protocol", ["VARCHAR"], "VARCHAR", calls=("url_extract_protocol",))
def url_extract_protocol(url: str) -> str | None:
    return _part(url, "scheme", decode=False)


@udf("trino_url_extract_host", ["VARCHAR"], "VARCHAR", calls=("url_extract_host",))
def url_extract_host(url: str) -> str | None:
    return _part(url, "host")


@udf("trino_url_extract_port", ["VARCHAR"], "BIGINT", calls=("url_extract_port",))
def url_extract_port(url: str) -> int | None:
    parts = parse(url)
    return None if parts is None else parts["port"]


@udf("trino_url_extract_path", ["VARCHAR"], "VARCHAR", calls=("url_extract_path",))
def url_extract_path(url: str) -> str | None:
    return _part(url, "path")


@udf("trino_url_extract_query", ["VARCHAR"], "VARCHAR", calls=("url_extract_query",))
def url_extract_query(url: str) -> str | None:
    return _part(url, "query")


@udf("trino_url_extract_fragment", ["VARCHAR"], "VARCHAR", calls=("url_extract_fragment",))
def url_extract_fragment(url: str) -> str | None:
    return _part(url, "fragment")


@udf("trino_url_extract_parameter", ["VARCHAR", "VARCHAR"], "VARCHAR", calls=("url_extract_parameter",))
def url_extract_parameter(url: str, name: str) -> str | None:
    """The first value of parameter `name` in the raw query ('' when it has no '='), NULL when absent."""
    parts = parse(url)
    if parts is None or not parts["query"]:
        return None
    for pair in parts["query"].split("&"):
        key, equals, value = pair.partition("=")
        if key == name:
            return value if equals else ""
    return None


@udf("trino_url_encode", ["VARCHAR"], "VARCHAR", calls=("url_encode",))
def url_encode(value: str) -> str:
    """application/x-www-form-urlencoded as Java's URLEncoder writes it (space as +, keeps . - * _)."""
    return quote(value, safe="-_.*").replace("%20", "+")


@udf("trino_url_decode", ["VARCHAR"], "VARCHAR", calls=("url_decode",))
def url_decode(value: str) -> str:
    return unquote_plus(value)
