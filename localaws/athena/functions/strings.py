"""String functions (https://trino.io/docs/current/functions/string.html), counted in code points as Trino does.

Where DuckDB's function of the same name answers differently (strpos with an instance, substr from 0 or past the
start, split with a limit, split_part past the end, replace of the empty string) the function runs in Python.
"""

from __future__ import annotations

import unicodedata

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.errors import QueryFailed
from localaws.athena.functions import call, cast, template, translator, udf


class InvalidArgument(ValueError):
    """Trino's INVALID_FUNCTION_ARGUMENT."""


@udf("trino_strpos", ["VARCHAR", "VARCHAR", "BIGINT"], "BIGINT")
def strpos(string: str, substring: str, instance: int) -> int:
    """1-based position of the instance-th occurrence (from the end when negative), 0 if there is none."""
    if instance == 0:
        raise InvalidArgument("'instance' must be a positive or negative number.")
    if substring == "":
        return 1
    position = -1
    if instance > 0:
        for _ in range(instance):
            position = string.find(substring, position + 1)
            if position < 0:
                return 0
    else:
        position = len(string) + 1
        for _ in range(-instance):
            position = string.rfind(substring, 0, position - 1 + len(substring))
            if position < 0:
                return 0
    return position + 1


@udf("trino_substr", ["VARCHAR", "BIGINT", "BIGINT"], "VARCHAR", takes_null=True)
def substr(string: str | None, start: int | None, length: int | None) -> str | None:
    """substr(string, start[, length]); `length` None means to the end (the caller makes a NULL length NULL)."""
    if string is None or start is None:
        return None
    if start == 0 or (abs(start) > len(string) and start < 0):
        return ""
    begin = start - 1 if start > 0 else len(string) + start
    if begin >= len(string) or (length is not None and length <= 0):
        return ""
    return string[begin:] if length is None else string[begin : begin + length]


@translator(exp.Substring)
def substring(node: exp.Substring) -> exp.Expression:
    length = node.args.get("length")
    if length is None:
        return call("trino_substr", node.this, node.args["start"], exp.Null())
    return template(
        "CASE WHEN :n IS NULL THEN NULL ELSE trino_substr(:s, :b, :n) END", s=node.this, b=node.args["start"], n=length
    )


@translator(exp.StrPosition)
def position(node: exp.StrPosition) -> exp.Expression:
    instance = node.args.get("occurrence") or exp.Literal.number(1)
    return call("trino_strpos", node.this, node.args["substr"], instance)


@udf("trino_split", ["VARCHAR", "VARCHAR", "BIGINT"], "VARCHAR[]", takes_null=True)
def split(string: str | None, delimiter: str | None, limit: int | None) -> list[str] | None:
    """split(string, delimiter[, limit]); `limit` None means no limit (the caller makes a NULL limit NULL)."""
    if string is None or delimiter is None:
        return None
    if delimiter == "":
        raise InvalidArgument("The delimiter may not be the empty string")
    if limit is not None and not 0 < limit < 2**31:
        raise InvalidArgument("Limit must be positive and fit in an integer")
    return string.split(delimiter, -1 if limit is None else limit - 1)


@translator(exp.Split)
def split_(node: exp.Split) -> exp.Expression:
    limit = node.args.get("limit")
    if limit is None:
        return call("trino_split", node.this, node.expression, exp.Null())
    return template(
        "CASE WHEN :n IS NULL THEN NULL ELSE trino_split(:s, :d, :n) END", s=node.this, d=node.expression, n=limit
    )


@udf("trino_split_part", ["VARCHAR", "VARCHAR", "BIGINT"], "VARCHAR")
def split_part(string: str, delimiter: str, index: int) -> str | None:
    """The index-th field (1-based); NULL past the last field; the empty delimiter splits into characters."""
    if index <= 0:
        raise InvalidArgument("Index must be greater than zero")
    parts = list(string) if delimiter == "" else string.split(delimiter)
    return parts[index - 1] if index <= len(parts) else None


@translator(exp.SplitPart)
def split_part_(node: exp.SplitPart) -> exp.Expression:
    return call(
        "trino_split_part",
        node.this,
        node.args.get("delimiter") or node.expression,
        node.args.get("part_index") or node.args.get("index"),
    )


@udf("trino_replace", ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR")
def replace(string: str, search: str, replacement: str) -> str:
    return string.replace(search, replacement)


@translator(exp.Replace)
def replace_(node: exp.Replace) -> exp.Expression:
    return call("trino_replace", node.this, node.expression, node.args.get("replacement") or exp.Literal.string(""))


@translator(exp.Pad)
def pad(node: exp.Pad) -> exp.Expression:
    """lpad/rpad fail for a negative size or an empty pad string (Trino), where DuckDB answers ''."""
    name = "lpad" if node.args.get("is_left") else "rpad"
    fill = node.args.get("fill_pattern") or exp.Literal.string(" ")
    return template(
        "CASE WHEN :n < 0 THEN error('INVALID_FUNCTION_ARGUMENT: Target length must be in the range [0..2147483647]') "
        "WHEN :f = '' THEN error('INVALID_FUNCTION_ARGUMENT: Padding string must not be empty') "
        f"ELSE {name}(:s, :n, :f) END",
        s=node.this,
        n=node.expression,
        f=fill,
    )


@translator("codepoint")
def codepoint(node: exp.Anonymous) -> exp.Expression:
    return template(
        "CASE WHEN length(:s) <> 1 THEN error('INVALID_FUNCTION_ARGUMENT: Input string must be a single character "
        "string') ELSE unicode(:s) END",
        s=node.expressions[0],
    )


@udf("trino_hamming_distance", ["VARCHAR", "VARCHAR"], "BIGINT", calls=("hamming_distance",))
def hamming_distance(left: str, right: str) -> int:
    if len(left) != len(right):
        raise InvalidArgument("The input strings to hamming_distance function must have the same length")
    return sum(a != b for a, b in zip(left, right, strict=True))


_SOUNDEX = {
    letter: str(digit)
    for digit, letters in enumerate(("", "BFPV", "CGJKQSXZ", "DT", "L", "MN", "R"), 0)
    for letter in letters
}


@udf("trino_soundex", ["VARCHAR"], "VARCHAR", calls=("soundex", exp.Soundex))
def soundex(string: str) -> str:
    """American Soundex (https://trino.io/docs/current/functions/string.html#soundex): letters only, H and W do not
    separate equal codes, vowels do."""
    letters = [c for c in string.upper() if "A" <= c <= "Z"]
    if not letters:
        return ""
    code, last = letters[0], _SOUNDEX.get(letters[0], "")
    for letter in letters[1:]:
        digit = _SOUNDEX.get(letter, "")
        if digit and digit != last:
            code += digit
        if letter not in "HW":
            last = digit
        if len(code) == 4:
            break
    return code.ljust(4, "0")


@udf("trino_normalize", ["VARCHAR", "VARCHAR"], "VARCHAR")
def normalize(string: str, form: str) -> str:
    return unicodedata.normalize(form.upper(), string)


@translator(exp.Normalize)
def normalize_(node: exp.Normalize) -> exp.Expression:
    form = node.args.get("form")
    name = form.name.upper() if isinstance(form, exp.Expression) else "NFC"
    if name not in ("NFC", "NFD", "NFKC", "NFKD"):
        raise QueryFailed(
            f"INVALID_FUNCTION_ARGUMENT: Normalization form must be one of [NFD, NFC, NFKD, NFKC]: {name}"
        )
    return call("trino_normalize", node.this, exp.Literal.string(name))


def _split_entries(string: str, entry_delimiter: str, key_delimiter: str) -> list[tuple[str, str]]:
    if entry_delimiter == "" or key_delimiter == "":
        raise InvalidArgument("entryDelimiter and keyValueDelimiter must not be empty")
    if entry_delimiter == key_delimiter:
        raise InvalidArgument("entryDelimiter and keyValueDelimiter must not be the same")
    entries = string.split(entry_delimiter)
    if entries and entries[-1] == "":
        entries = entries[:-1]
    pairs = []
    for entry in entries:
        key, found, value = entry.partition(key_delimiter)
        if not found or key_delimiter in value:
            raise InvalidArgument(f"Key-value delimiter must appear exactly once in each entry. Bad input: '{entry}'")
        pairs.append((key, value))
    return pairs


@udf("trino_split_to_map", ["VARCHAR", "VARCHAR", "VARCHAR"], "MAP(VARCHAR, VARCHAR)")
def split_to_map(string: str, entry_delimiter: str, key_delimiter: str) -> dict:
    pairs = _split_entries(string, entry_delimiter, key_delimiter)
    keys = [k for k, _ in pairs]
    duplicate = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
    if duplicate is not None:
        raise InvalidArgument(f"Duplicate keys ({duplicate}) are not allowed")
    return {"key": keys, "value": [v for _, v in pairs]}


@udf(
    "trino_split_to_multimap",
    ["VARCHAR", "VARCHAR", "VARCHAR"],
    "MAP(VARCHAR, VARCHAR[])",
    calls=("split_to_multimap",),
)
def split_to_multimap(string: str, entry_delimiter: str, key_delimiter: str) -> dict:
    grouped: dict[str, list[str]] = {}
    for key, value in _split_entries(string, entry_delimiter, key_delimiter):
        grouped.setdefault(key, []).append(value)
    return {"key": list(grouped), "value": list(grouped.values())}


@translator(exp.StrToMap)
def str_to_map(node: exp.StrToMap) -> exp.Expression:
    return call("trino_split_to_map", node.this, node.args.get("pair_delim"), node.args.get("key_value_delim"))


@udf("trino_from_utf8", ["BLOB", "VARCHAR"], "VARCHAR")
def from_utf8(data: bytes, replacement: str) -> str:
    """Invalid UTF-8 becomes the replacement (U+FFFD by default), as Trino's from_utf8 does."""
    return data.decode("utf-8", errors="replace").replace("\ufffd", replacement)


@translator(exp.Decode)
def decode(node: exp.Decode) -> exp.Expression:
    replacement = node.args.get("replace")
    if replacement is None:
        replacement = exp.Literal.string("\ufffd")
    elif isinstance(replacement, exp.Literal) and not replacement.is_string:
        replacement = call("chr", replacement)
    elif isinstance(replacement, exp.Literal) and len(replacement.this) > 1:
        raise QueryFailed("INVALID_FUNCTION_ARGUMENT: Replacement character string must empty or a single character")
    return call("trino_from_utf8", node.this, replacement)


@translator(exp.ConcatWs)
def concat_ws(node: exp.ConcatWs) -> exp.Expression | None:
    """concat_ws(separator, array) is NULL for a NULL array (DuckDB answers '')."""
    arguments = node.expressions
    dtype = arguments[1].type if len(arguments) == 2 else None
    if dtype is None or dtype.this != exp.DataType.Type.ARRAY:
        return None
    texts = template("list_filter(:a, _c -> _c IS NOT NULL)", a=arguments[1])
    return template("CASE WHEN :a IS NULL THEN NULL ELSE :j END", a=arguments[1], j=joined(texts, arguments[0]))


def joined(texts: exp.Expression, separator: exp.Expression) -> exp.Expression:
    """array_to_string(texts, separator). DuckDB's takes a constant separator only (it is string_agg's), so one read
    from a column joins with list_reduce: each text after a separator, then the first separator cut off."""
    if isinstance(separator, exp.Literal):
        return template("array_to_string(:l, :s)", l=texts, s=separator)
    if separator.find(exp.Column) is None:  # a NULL separator is a NULL answer (DuckDB joins with '')
        return template("CASE WHEN :s IS NULL THEN NULL ELSE array_to_string(:l, :s) END", l=texts, s=separator)
    return template(
        "substr(list_reduce(list_prepend('', list_transform(:l, _e -> :s || _e)), (_x, _y) -> _x || _y), "
        "length(:s) + 1)",
        l=texts,
        s=separator,
    )


_TEXT_OR_NULL = {exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR, exp.DataType.Type.NULL}


@translator(exp.Concat)
def concat(node: exp.Concat) -> exp.Expression | None:
    """String concat is a varchar even when an argument is a bare NULL (then the answer is NULL). Trino's concat
    takes two or more arguments (https://trino.io/docs/current/functions/string.html#concat)."""
    if len(node.expressions) < 2:
        raise QueryFailed("INVALID_FUNCTION_ARGUMENT: There must be two or more concatenation arguments")
    kinds = [
        exp.DataType.Type.NULL if isinstance(a, exp.Null) else tt.type_of(a).this if tt.type_of(a) else None
        for a in node.expressions
    ]
    if not all(kind in _TEXT_OR_NULL for kind in kinds):
        return None
    return cast(node.copy(), "VARCHAR")


# Trino refuses a Levenshtein distance over inputs whose lengths multiply past this (its dynamic-programming table).
LEVENSHTEIN_MAX_CELLS = 1_000_000


@translator(exp.Levenshtein)
def levenshtein_distance(node: exp.Levenshtein) -> exp.Expression:
    return template(
        f"CASE WHEN length(:a) * length(:b) > {LEVENSHTEIN_MAX_CELLS} THEN "
        "error('INVALID_FUNCTION_ARGUMENT: The combined inputs for Levenshtein distance are too large') "
        "ELSE levenshtein(:a, :b) END",
        a=node.this,
        b=node.expression,
    )


# Java's Character.isWhitespace, which Trino's trim functions strip: ASCII controls \t \n \v \f \r \x1c-\x1f and the
# Unicode space, line and paragraph separators except the no-break spaces (U+00A0, U+2007, U+202F).
_JAVA_WHITESPACE = (
    r"[\t\n\x{0B}\f\r\x{1C}-\x{1F} \x{1680}\x{2000}-\x{2006}\x{2008}-\x{200A}\x{2028}\x{2029}\x{205F}\x{3000}]"
)


@translator(exp.Trim)
def trim(node: exp.Trim) -> exp.Expression | None:
    """trim/ltrim/rtrim without characters strip Java whitespace (https://trino.io/docs/current/functions/string.html#trim);
    DuckDB strips spaces only."""
    if node.args.get("expression") is not None:
        return None
    position = (node.args.get("position") or "BOTH").upper()
    pattern = {"LEADING": f"^{_JAVA_WHITESPACE}+", "TRAILING": f"{_JAVA_WHITESPACE}+$"}.get(
        position, f"^{_JAVA_WHITESPACE}+|{_JAVA_WHITESPACE}+$"
    )
    return call(
        "regexp_replace", node.this, exp.Literal.string(pattern), exp.Literal.string(""), exp.Literal.string("g")
    )
