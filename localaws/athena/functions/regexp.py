"""Regular expressions as Trino runs them (https://trino.io/docs/current/functions/regexp.html): Java pattern
syntax, Java replacement syntax ($1, ${name}, \\$), a NULL for a group that did not take part, and empty matches
between every character. They run in Python's re, which shares those rules (RE2, DuckDB's engine, does not: no
backreferences or lookaround, '' for an unmatched group, and \\1 replacements).
"""

from __future__ import annotations

import functools
import re

from sqlglot import exp

from localaws.athena.functions import call, template, translator, udf


class InvalidArgument(ValueError):
    """Trino's INVALID_FUNCTION_ARGUMENT."""


@functools.lru_cache(maxsize=256)
def compiled(pattern: str) -> re.Pattern:
    """A Java pattern in Python: (?<name>...) is (?P<name>...)."""
    try:
        return re.compile(re.sub(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", r"(?P<\1>", pattern))
    except re.error as error:
        raise InvalidArgument(f"Invalid regular expression: {error}") from None


def _java_replacement(replacement: str, pattern: re.Pattern) -> str:
    """Java's Matcher replacement ($n takes digits while the group exists, ${name}, \\x is x) as Python's."""
    out, index, groups = [], 0, pattern.groups
    while index < len(replacement):
        char = replacement[index]
        if char == "\\":
            index += 1
            if index >= len(replacement):
                raise InvalidArgument("character to be escaped is missing")
            out.append(replacement[index].replace("\\", "\\\\"))
        elif char == "$":
            index += 1
            if index < len(replacement) and replacement[index] == "{":
                end = replacement.find("}", index)
                name = replacement[index + 1 : end] if end > 0 else ""
                if not name or name not in pattern.groupindex:
                    raise InvalidArgument(f"No group with name {{{name}}}")
                out.append(f"\\g<{name}>")
                index = end
            elif index < len(replacement) and replacement[index].isdigit():
                number = int(replacement[index])
                if number > groups:
                    raise InvalidArgument(f"No group {number}")
                while index + 1 < len(replacement) and replacement[index + 1].isdigit():
                    longer = number * 10 + int(replacement[index + 1])
                    if longer > groups:
                        break
                    number, index = longer, index + 1
                out.append(f"\\g<{number}>")
            else:
                raise InvalidArgument("Illegal group reference")
        else:
            out.append(char.replace("\\", "\\\\"))
        index += 1
    return "".join(out)


@udf("trino_regexp_like", ["VARCHAR", "VARCHAR"], "BOOLEAN")
def regexp_like(string: str, pattern: str) -> bool:
    return compiled(pattern).search(string) is not None


@udf("trino_regexp_extract", ["VARCHAR", "VARCHAR", "BIGINT"], "VARCHAR")
def regexp_extract(string: str, pattern: str, group: int) -> str | None:
    regex = compiled(pattern)
    if not 0 <= group <= regex.groups:
        raise InvalidArgument(f"Pattern has {regex.groups} groups. Cannot access group {group}")
    match = regex.search(string)
    return match.group(group) if match else None


@udf("trino_regexp_extract_all", ["VARCHAR", "VARCHAR", "BIGINT"], "VARCHAR[]")
def regexp_extract_all(string: str, pattern: str, group: int) -> list[str | None]:
    regex = compiled(pattern)
    if not 0 <= group <= regex.groups:
        raise InvalidArgument(f"Pattern has {regex.groups} groups. Cannot access group {group}")
    return [match.group(group) for match in regex.finditer(string)]


@udf("trino_regexp_replace", ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR")
def regexp_replace(string: str, pattern: str, replacement: str) -> str:
    regex = compiled(pattern)
    return regex.sub(_java_replacement(replacement, regex), string)


@udf("trino_regexp_groups", ["VARCHAR", "VARCHAR"], "VARCHAR[][]")
def regexp_groups(string: str, pattern: str) -> list[list[str | None]]:
    """Every match's groups 1..n (NULL where a group did not take part), for a lambda replacement."""
    return [list(match.groups()) for match in compiled(pattern).finditer(string)]


@udf("trino_regexp_splice", ["VARCHAR", "VARCHAR", "VARCHAR[]"], "VARCHAR")
def regexp_splice(string: str, pattern: str, replacements: list[str | None]) -> str | None:
    """The string with its i-th match replaced by replacements[i]; NULL if any replacement is NULL."""
    if any(r is None for r in replacements):
        return None
    pieces = iter(replacements)
    return compiled(pattern).sub(lambda _: next(pieces), string)


@udf("trino_regexp_split", ["VARCHAR", "VARCHAR"], "VARCHAR[]")
def regexp_split(string: str, pattern: str) -> list[str]:
    """Java's split keeps no groups and, unlike String.split, keeps trailing empty strings."""
    pieces, last = [], 0
    for match in compiled(pattern).finditer(string):
        pieces.append(string[last : match.start()])
        last = match.end()
    return [*pieces, string[last:]]


@udf("trino_regexp_count", ["VARCHAR", "VARCHAR"], "BIGINT")
def regexp_count(string: str, pattern: str) -> int:
    return sum(1 for _ in compiled(pattern).finditer(string))


@udf("trino_regexp_position", ["VARCHAR", "VARCHAR", "BIGINT", "BIGINT"], "BIGINT")
def regexp_position(string: str, pattern: str, start: int, occurrence: int) -> int:
    """1-based position of the occurrence-th match at or after start, -1 if there is none."""
    if start < 1:
        raise InvalidArgument("start position cannot be smaller than 1")
    if occurrence < 1:
        raise InvalidArgument("occurrence cannot be smaller than 1")
    for count, match in enumerate(compiled(pattern).finditer(string, start - 1), 1):
        if count == occurrence:
            return match.start() + 1
    return -1


@translator(exp.RegexpLike)
def like(node: exp.RegexpLike) -> exp.Expression:
    return call("trino_regexp_like", node.this, node.expression)


@translator(exp.RegexpExtract)
def extract(node: exp.RegexpExtract) -> exp.Expression:
    return call("trino_regexp_extract", node.this, node.expression, node.args.get("group") or exp.Literal.number(0))


@translator(exp.RegexpExtractAll)
def extract_all(node: exp.RegexpExtractAll) -> exp.Expression:
    group = node.args.get("group") or exp.Literal.number(0)
    return call("trino_regexp_extract_all", node.this, node.expression, group)


@translator(exp.RegexpReplace)
def replace(node: exp.RegexpReplace) -> exp.Expression:
    replacement = node.args.get("replacement")
    if isinstance(replacement, exp.Lambda):
        replaced = template(
            "list_transform(trino_regexp_groups(:s, :p), :f)", s=node.this, p=node.expression, f=replacement
        )
        return call("trino_regexp_splice", node.this, node.expression, replaced)
    return call("trino_regexp_replace", node.this, node.expression, replacement or exp.Literal.string(""))


@translator(exp.RegexpSplit)
def split(node: exp.RegexpSplit) -> exp.Expression:
    return call("trino_regexp_split", node.this, node.expression)


@translator(exp.RegexpCount)
def count(node: exp.RegexpCount) -> exp.Expression:
    return call("trino_regexp_count", node.this, node.expression)


@translator("regexp_position")
def position(node: exp.Anonymous) -> exp.Expression:
    string, pattern, *rest = node.expressions
    start = rest[0] if rest else exp.Literal.number(1)
    occurrence = rest[1] if len(rest) > 1 else exp.Literal.number(1)
    return call("trino_regexp_position", string, pattern, start, occurrence)
