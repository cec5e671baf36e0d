"""format(format, args...) with Java's Formatter (https://trino.io/docs/current/functions/conversion.html#format).

The common conversions (%s %d %f %e %x %o %c %%, flags -0+ and space, width, precision) mean the same in DuckDB's
printf; a TIMESTAMP argument prints as Java's LocalDateTime (2020-05-10T12:34:56.111). Other Formatter syntax
(argument indexes, the , flag, %t date conversions) is refused rather than answered differently.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.functions import call, cast, not_supported, translator, udf

_SPEC = re.compile(r"%([-0+ ]*)(\d+)?(\.\d+)?([a-zA-Z%])")
_SAFE = set("sdfeExXoc%")


@udf("trino_java_local_datetime", ["TIMESTAMP"], "VARCHAR")
def java_local_datetime(value: dt.datetime) -> str:
    """LocalDateTime.toString(): seconds only when not zero, the fraction in groups of three digits."""
    text = value.strftime("%Y-%m-%dT%H:%M")
    if value.second or value.microsecond:
        text += f":{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}" if value.microsecond % 1000 == 0 else f".{value.microsecond:06d}"
    return text


@translator(exp.Format)
def format_(node: exp.Format) -> exp.Expression:
    pattern = node.this
    if not isinstance(pattern, exp.Literal) or not pattern.is_string:
        raise not_supported("localaws needs format()'s pattern as a literal")
    for match in _SPEC.finditer(pattern.this):
        if match[4] not in _SAFE:
            raise not_supported(f"localaws does not format '{match[0]}' as Java's Formatter does")
    if re.search(r"%\d+\$|%,|%<", pattern.this):
        raise not_supported("localaws does not format argument indexes or the ',' flag")
    arguments = []
    for argument in node.expressions:
        dtype = tt.type_of(argument)
        if dtype is not None and dtype.this in (exp.DataType.Type.TIMESTAMP,):
            argument = call("trino_java_local_datetime", argument)
        elif dtype is not None and dtype.this == exp.DataType.Type.DATE:
            argument = cast(argument, "VARCHAR")
        arguments.append(argument)
    return call("printf", pattern, *arguments)
