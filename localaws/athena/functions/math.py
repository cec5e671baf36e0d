"""Math and comparison with IEEE 754 semantics as Trino has them (https://trino.io/docs/current/functions/math.html,
https://trino.io/docs/current/functions/comparison.html).

DuckDB orders NaN above every number and makes NaN = NaN true; in Trino every comparison with NaN is false, except
<> which is true.
"""

from __future__ import annotations

import hashlib
import math
import statistics

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.errors import QueryFailed
from localaws.athena.functions import call, cast, not_supported, template, translator, udf
from localaws.athena.results import java_double

_NAN_ANSWER = {exp.EQ: False, exp.NEQ: True, exp.LT: False, exp.LTE: False, exp.GT: False, exp.GTE: False}


def _isnan(node: exp.Expression) -> exp.Expression:
    return call("isnan", cast(node.copy(), "DOUBLE"))


@translator(*_NAN_ANSWER)
def compare(node: exp.Binary) -> exp.Expression | None:
    left, right = node.this, node.expression
    if isinstance(node, (exp.EQ, exp.NEQ)):
        from localaws.athena.functions import arrays, json, maps

        equal = arrays.equal(node) or maps.equal(node) or json.equal(node)
        if equal is not None:
            return equal
    if not (tt.is_floating(tt.type_of(left)) or tt.is_floating(tt.type_of(right))):
        return None
    either_null = exp.or_(
        exp.Is(this=left.copy(), expression=exp.Null()), exp.Is(this=right.copy(), expression=exp.Null())
    )
    either_nan = exp.or_(_isnan(left), _isnan(right))
    answer = exp.Boolean(this=_NAN_ANSWER[type(node)])
    return exp.Case(
        ifs=[exp.If(this=either_null, true=exp.Null()), exp.If(this=either_nan, true=answer)], default=node.copy()
    )


@translator(exp.Between)
def between(node: exp.Between) -> exp.Expression | None:
    value = node.this
    if not any(tt.is_floating(tt.type_of(n)) for n in (value, node.args["low"], node.args["high"])):
        return None
    low = compare(exp.GTE(this=value.copy(), expression=node.args["low"].copy()))
    high = compare(exp.LTE(this=value.copy(), expression=node.args["high"].copy()))
    return exp.and_(exp.Paren(this=low), exp.Paren(this=high))


def _nan_if(node: exp.Expression, value: exp.Expression) -> exp.Expression:
    """`value`, except NaN where `node` (a double) is NaN."""
    return exp.Case(ifs=[exp.If(this=_isnan(node), true=node.copy())], default=value)


@translator("nan")
def nan(node: exp.Anonymous) -> exp.Expression:
    return cast(exp.Literal.string("NaN"), "DOUBLE")


@translator("infinity")
def infinity(node: exp.Anonymous) -> exp.Expression:
    return cast(exp.Literal.string("Infinity"), "DOUBLE")


@translator("is_infinite", "is_finite")
def is_infinite(node: exp.Anonymous) -> exp.Expression:
    name = "isinf" if node.name.lower() == "is_infinite" else "isfinite"
    return call(name, cast(node.expressions[0], "DOUBLE"))


@translator(exp.Sign)
def sign(node: exp.Sign) -> exp.Expression | None:
    """sign(double) is a double in Trino, and NaN for NaN."""
    dtype = tt.type_of(node.this)
    if dtype is not None and dtype.this in tt.INTEGERS:
        return cast(exp.Sign(this=node.this.copy()), dtype)  # sign(integer) is an integer in Trino
    if tt.is_decimal(dtype):
        return cast(exp.Sign(this=node.this.copy()), tt.decimal_type(1, 0))
    if not tt.is_floating(dtype):
        return None
    return _nan_if(node.this, cast(exp.Sign(this=node.this.copy()), dtype))


@translator(exp.Div)
def divide(node: exp.Div) -> exp.Expression | None:
    """x / 0 is ±Infinity or NaN for doubles (IEEE 754); DuckDB raises."""
    dtype = node.type
    if dtype is not None and dtype.this in tt.INTEGERS:
        return cast(exp.Div(this=node.this.copy(), expression=node.expression.copy()), dtype)
    if not tt.is_floating(dtype):
        from localaws.athena.functions.decimal import divide as decimal_divide

        return decimal_divide(node)
    left, right = cast(node.this.copy(), dtype), cast(node.expression.copy(), dtype)
    infinite = cast(exp.Literal.string("Infinity"), dtype)
    by_zero = exp.Case(
        ifs=[
            exp.If(this=exp.GT(this=left.copy(), expression=exp.Literal.number(0)), true=infinite),
            exp.If(this=exp.LT(this=left.copy(), expression=exp.Literal.number(0)), true=exp.Neg(this=infinite.copy())),
        ],
        default=cast(exp.Literal.string("NaN"), dtype),
    )
    zero = exp.EQ(this=right.copy(), expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=zero, true=by_zero)], default=exp.Div(this=left, expression=right))


def _has_nan(node: exp.Expression) -> bool:
    """Whether the (translated) expression spells a NaN: CAST('NaN' AS DOUBLE), as nan() becomes."""
    return any(isinstance(n, exp.Literal) and n.is_string and n.this.lower() == "nan" for n in node.walk())


@translator(exp.Greatest, exp.Least)
def greatest(node: exp.Func) -> exp.Expression | None:
    """NULL if any argument is NULL; NaN only when every argument is NaN (Trino's greatest/least)."""
    arguments = [node.this, *node.expressions]
    element = tt.type_of(arguments[0])
    if element is not None and element.this == exp.DataType.Type.ARRAY and any(_has_nan(a) for a in arguments):
        # Arrays holding NaN are passed over, as single NaN values are, unless every array holds one.
        values = exp.Array(expressions=[a.copy() for a in arguments])
        clean = template("list_filter(:v, _x -> len(list_filter(_x, _e -> isnan(_e))) = 0)", v=values)
        pick = template(f"{'list_max' if isinstance(node, exp.Greatest) else 'list_min'}(:c)", c=clean)
        return template("coalesce(:p, :first)", p=pick, first=arguments[0])
    nulls = [exp.Is(this=a.copy(), expression=exp.Null()) for a in arguments]
    any_null = nulls[0] if len(nulls) == 1 else exp.or_(*nulls)
    plain = type(node)(this=arguments[0].copy(), expressions=[a.copy() for a in arguments[1:]])
    if tt.is_floating(node.type) or any(tt.is_floating(tt.type_of(a)) for a in arguments):
        values = exp.Array(expressions=[a.copy() for a in arguments])
        numbers = call(
            "list_filter",
            values,
            exp.Lambda(this=exp.Not(this=call("isnan", exp.column("_x"))), expressions=[exp.to_identifier("_x")]),
        )
        pick = call("list_max" if isinstance(node, exp.Greatest) else "list_min", numbers)
        plain = exp.Coalesce(this=pick, expressions=[cast(exp.Literal.string("NaN"), "DOUBLE")])
    return exp.Case(ifs=[exp.If(this=any_null, true=exp.Null())], default=plain)


def _null_digits(digits: exp.Expression | None, value: exp.Expression) -> exp.Expression:
    """round(x, NULL) is NULL in Trino; DuckDB refuses a NULL precision."""
    if digits is None:
        return value
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=digits.copy(), expression=exp.Null()), true=exp.Null())], default=value
    )


def _decimal_cast(node: exp.Expression, value: exp.Expression, precision: int, scale: int) -> exp.Expression:
    return cast(value, tt.decimal_type(min(tt.MAX_PRECISION, max(1, precision)), scale))


@translator(exp.Round)
def round_(node: exp.Round) -> exp.Expression | None:
    """round(decimal(p,s), d) is decimal(p+1, s); round(decimal(p,s)) is decimal(p-s+min(s,1), 0); half away from 0."""
    params = tt.decimal_params(tt.type_of(node.this)) if tt.is_decimal(tt.type_of(node.this)) else None
    digits = node.args.get("decimals")
    if tt.is_floating(tt.type_of(node.this)):
        rounded = _nan_if(node.this, exp.Round(this=node.this.copy(), decimals=digits.copy() if digits else None))
        return _null_digits(digits, rounded)
    dtype = tt.type_of(node.this)
    if digits is not None and dtype is not None and dtype.this in _INTEGER_MINIMUM:
        bits = exp.Literal.number(_INTEGER_MINIMUM[dtype.this].bit_length())
        return cast(call("trino_round_integer", node.this.copy(), digits.copy(), bits), dtype)
    if params is None:
        return _null_digits(digits, node.copy()) if digits is not None else None
    precision, scale = params
    if digits is not None and digits.find(exp.Column) is not None:
        raise not_supported("localaws rounds a decimal to a constant number of digits only (DuckDB's round)")
    if digits is not None and _is_null(digits):
        return cast(exp.Null(), tt.decimal_type(min(tt.MAX_PRECISION, precision + 1), scale))
    if digits is None:
        return _decimal_cast(node, exp.Round(this=node.this.copy()), precision - scale + min(scale, 1), 0)
    value = _decimal_cast(node, exp.Round(this=node.this.copy(), decimals=digits.copy()), precision + 1, scale)
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=digits.copy(), expression=exp.Null()), true=exp.Null())], default=value
    )


def _is_null(node: exp.Expression) -> bool:
    return isinstance(node, exp.Null) or (isinstance(node, exp.Cast) and isinstance(node.this, exp.Null))


@udf("trino_round_integer", ["BIGINT", "BIGINT", "INTEGER"], "BIGINT")
def _round_integer(value: int, digits: int, bits: int) -> int:
    """round(integer, d) for d < 0: to a multiple of 10^-d, half away from zero, in Trino's 64-bit arithmetic; a
    factor or result past the type (10^19 and up for any value) is NUMERIC_VALUE_OUT_OF_RANGE."""
    if digits >= 0:
        return value
    if digits <= -19:
        raise ValueError(f"NUMERIC_VALUE_OUT_OF_RANGE: numerical overflow: {value}")
    factor = 10**-digits
    quotient, residue = divmod(abs(value), factor)
    rounded = (quotient + (2 * residue >= factor)) * factor * (-1 if value < 0 else 1)
    if not -(2 ** (bits - 1)) <= rounded < 2 ** (bits - 1):
        raise ValueError(f"NUMERIC_VALUE_OUT_OF_RANGE: numerical overflow: {value}")
    return rounded


@translator(exp.Trunc)
def truncate(node: exp.Trunc) -> exp.Expression | None:
    """truncate(decimal(p,s)) is decimal(p-s, 0); truncate(decimal(p,s), d) keeps decimal(p,s)."""
    if not tt.is_decimal(tt.type_of(node.this)):
        return None
    precision, scale = tt.decimal_params(tt.type_of(node.this))
    digits = node.args.get("decimals")
    if digits is None:
        return _decimal_cast(node, node.copy(), precision - scale, 0)
    if digits.find(exp.Column) is not None:
        raise not_supported("localaws truncates a decimal to a constant number of digits only (DuckDB's trunc)")
    return _decimal_cast(node, node.copy(), precision, scale)


@udf("trino_to_base", ["BIGINT", "BIGINT"], "VARCHAR", calls=("to_base",))
def _to_base(value: int, radix: int) -> str:
    """Digits above 9 in lower case, a minus sign for negatives (to_base(-26, 16) = '-1a')."""
    if not 2 <= radix <= 36:
        raise ValueError(f"Radix must be between 2 and 36: {radix}")
    digits, number = "", abs(value)
    while True:
        number, digit = divmod(number, radix)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if number == 0:
            break
    return ("-" if value < 0 else "") + digits


@udf("trino_from_base", ["VARCHAR", "BIGINT"], "BIGINT", calls=(exp.FromBase,))
def _from_base(text: str, radix: int) -> int:
    if not 2 <= radix <= 36:
        raise ValueError(f"Radix must be between 2 and 36: {radix}")
    value = int(text, radix)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"Not a valid base-{radix} number: {text}")
    return value


@udf("trino_normal_cdf", ["DOUBLE", "DOUBLE", "DOUBLE"], "DOUBLE")
def _normal_cdf(mean: float, sd: float, value: float) -> float:
    if not sd > 0:
        raise ValueError("standardDeviation must be > 0")
    if math.isnan(mean) or math.isnan(value):
        return math.nan
    return statistics.NormalDist(mean, sd).cdf(value) if math.isfinite(mean) else (0.0 if mean > 0 else 1.0)


@udf("trino_inverse_normal_cdf", ["DOUBLE", "DOUBLE", "DOUBLE"], "DOUBLE", calls=("inverse_normal_cdf",))
def _inverse_normal_cdf(mean: float, sd: float, p: float) -> float:
    if not 0 < p < 1:
        raise ValueError("p must be 0 > p > 1")
    if not sd > 0:
        raise ValueError("sd must be > 0")
    return statistics.NormalDist(mean, sd).inv_cdf(p)


def _regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the Beta distribution's cdf, from mpmath (installed with sympy, which moto's cfn-lint needs) at
    30 digits; Trino computes it with Apache Commons Math."""
    import mpmath

    with mpmath.workdps(30):
        return float(mpmath.betainc(a, b, 0, x, regularized=True))


@udf("trino_beta_cdf", ["DOUBLE", "DOUBLE", "DOUBLE"], "DOUBLE", calls=("beta_cdf",))
def _beta_cdf(a: float, b: float, value: float) -> float:
    """https://trino.io/docs/current/functions/math.html#beta_cdf: a, b > 0 and 0 <= v <= 1."""
    if not (a > 0 and b > 0):
        raise ValueError("a, b must be > 0")
    if not 0 <= value <= 1:
        raise ValueError("value must be in the interval [0, 1]")
    return _regularized_beta(a, b, value)


@udf("trino_inverse_beta_cdf", ["DOUBLE", "DOUBLE", "DOUBLE"], "DOUBLE", calls=("inverse_beta_cdf",))
def _inverse_beta_cdf(a: float, b: float, p: float) -> float:
    """The v with beta_cdf(a, b, v) = p, by bisection down to adjacent doubles (the cdf is monotonic on [0, 1])."""
    if not (a > 0 and b > 0):
        raise ValueError("a, b must be > 0")
    if not 0 <= p <= 1:
        raise ValueError("p must be in the interval [0, 1]")
    if p in (0, 1):
        return p
    low, high = 0.0, 1.0
    while True:
        middle = (low + high) / 2
        if middle in (low, high):
            return low if p - _regularized_beta(a, b, low) <= _regularized_beta(a, b, high) - p else high
        if _regularized_beta(a, b, middle) < p:
            low = middle
        else:
            high = middle


def _wilson(successes: int, trials: int, z: float, sign: int) -> float:
    if successes < 0 or trials <= 0 or successes > trials or z < 0:
        raise ValueError("wilson_interval: 0 <= successes <= trials, trials > 0, z >= 0")
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre + sign * spread) / (1 + z * z / trials)


@udf("trino_wilson_interval_lower", ["BIGINT", "BIGINT", "DOUBLE"], "DOUBLE", calls=("wilson_interval_lower",))
def _wilson_lower(successes: int, trials: int, z: float) -> float:
    return _wilson(successes, trials, z, -1)


@udf("trino_wilson_interval_upper", ["BIGINT", "BIGINT", "DOUBLE"], "DOUBLE", calls=("wilson_interval_upper",))
def _wilson_upper(successes: int, trials: int, z: float) -> float:
    return _wilson(successes, trials, z, 1)


@udf("trino_width_bucket", ["DOUBLE", "DOUBLE", "DOUBLE", "BIGINT"], "BIGINT")
def _width_bucket(value: float, low: float, high: float, count: int) -> int:
    """The bucket (1..count, 0 below, count + 1 above) of value in count equal-width buckets from low to high."""
    if count <= 0 or low == high or math.isnan(value) or not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("width_bucket: bucketCount must be > 0, bounds finite and different, operand not NaN")
    if low < high:
        return 0 if value < low else count + 1 if value >= high else int((value - low) / (high - low) * count) + 1
    return 0 if value > low else count + 1 if value <= high else int((low - value) / (low - high) * count) + 1


@udf("trino_width_bucket_array", ["DOUBLE", "DOUBLE[]"], "BIGINT")
def _width_bucket_array(value: float, bins: list[float]) -> int:
    """The bucket of value among sorted bin lower bounds: Trino's binary search, which checks only the bins it
    visits (finite, and first <= last of the range it narrows to)."""
    if not bins:
        raise ValueError("Bins cannot be an empty array")
    if any(b is None for b in bins):
        raise ValueError("width_bucket: bins must not be NULL")
    if math.isnan(value):
        raise ValueError("Operand cannot be NaN")
    lower, upper = 0, len(bins)
    while lower < upper:
        if bins[lower] > bins[upper - 1]:
            raise ValueError("Bin values are not sorted in ascending order")
        middle = (lower + upper) // 2
        if not math.isfinite(bins[middle]):
            raise ValueError(f"Bin value must be finite, got {java_double(bins[middle])}")
        if value < bins[middle]:
            upper = middle
        else:
            lower = middle + 1
    return lower


@translator("normal_cdf")
def normal_cdf(node: exp.Anonymous) -> exp.Expression:
    """DuckDB turns a NaN a Python function returns into NULL: NaN in, NaN out is decided here."""
    mean, sd, value = node.expressions
    return template(
        "CASE WHEN isnan(CAST(:m AS DOUBLE)) OR isnan(CAST(:v AS DOUBLE)) THEN CAST('NaN' AS DOUBLE) "
        "ELSE trino_normal_cdf(:m, :s, :v) END",
        m=mean,
        s=sd,
        v=value,
    )


@translator(exp.WidthBucket, "width_bucket")
def width_bucket(node: exp.Expression) -> exp.Expression:
    arguments = node.expressions if isinstance(node, exp.Anonymous) else [v for v in node.args.values() if v]
    if len(arguments) == 2:
        return call("trino_width_bucket_array", *arguments)
    return call("trino_width_bucket", *arguments)


@translator(exp.Cbrt)
def cbrt(node: exp.Cbrt) -> exp.Expression:
    """NaN and ±Infinity are their own cube roots (and DuckDB reads a NaN from Python as NULL)."""
    return template(
        "CASE WHEN isfinite(CAST(:x AS DOUBLE)) THEN trino_cbrt(:x) ELSE CAST(:x AS DOUBLE) END", x=node.this
    )


@udf("trino_cbrt", ["DOUBLE"], "DOUBLE")
def _cbrt(value: float) -> float:
    """Java's Math.cbrt is exact for perfect cubes (cbrt(27) = 3.0); DuckDB's answers 3.0000000000000004."""
    root = math.cbrt(value)
    whole = round(root)
    return float(whole) if whole**3 == value else root


@translator(exp.Avg)
def avg(node: exp.Avg) -> exp.Expression | None:
    """avg(decimal(p,s)) is decimal(p,s), rounded half up, in Trino; DuckDB averages decimals as a double."""
    dtype = tt.type_of(node.this)
    if not tt.is_decimal(dtype) or node.find_ancestor(exp.Window) is not None:
        return None
    precision, scale = tt.decimal_params(dtype)
    exact = template(
        "trino_decimal_divide(CAST(sum(:x) AS VARCHAR), CAST(count(:x) AS VARCHAR), :s)",
        x=node.this,
        s=exp.Literal.number(scale),
    )
    return cast(exact, tt.decimal_type(precision, scale))


_INTEGER_NAMES = {tt.T.TINYINT: "tinyint", tt.T.SMALLINT: "smallint", tt.T.INT: "integer", tt.T.BIGINT: "bigint"}
_INTEGER_MINIMUM = {tt.T.TINYINT: -(2**7), tt.T.SMALLINT: -(2**15), tt.T.INT: -(2**31), tt.T.BIGINT: -(2**63)}


@translator(exp.Neg)
def negate(node: exp.Neg) -> exp.Expression | None:
    """-x keeps x's integer type, and the type's minimum has no negation: NUMERIC_VALUE_OUT_OF_RANGE (DuckDB widens
    -(TINYINT '-128') to a SMALLINT 128). A minus sign on a literal is part of the literal (-9223372036854775808).
    https://trino.io/docs/current/functions/math.html#mathematical-operators"""
    dtype = tt.type_of(node.this)
    if dtype is None or dtype.this not in _INTEGER_MINIMUM or isinstance(node.this, exp.Literal):
        return None
    name = _INTEGER_NAMES[dtype.this]
    return template(
        f"CASE WHEN :x = {_INTEGER_MINIMUM[dtype.this]} THEN "
        f"error('NUMERIC_VALUE_OUT_OF_RANGE: {name} negation overflow: ' || CAST(:x AS VARCHAR)) "
        f"ELSE CAST(-(:x) AS {name.upper()}) END",
        x=node.this,
    )


@translator(exp.Rand)
def random_(node: exp.Rand) -> exp.Expression | None:
    """random(n) is an integer 0 <= x < n and random(m, n) one m <= x < n, of n's type; sqlglot reads the argument
    as a seed. https://trino.io/docs/current/functions/math.html#random"""
    bounds = [node.args[k] for k in ("this", "lower", "upper") if node.args.get(k) is not None]
    if not bounds:
        return None
    low, high = (exp.Literal.number(0), bounds[0]) if len(bounds) == 1 else bounds[:2]
    dtype = tt.type_of(high) or exp.DataType.build("BIGINT")
    if dtype.this not in _INTEGER_MINIMUM:
        raise QueryFailed(f"FUNCTION_NOT_FOUND: random takes integer bounds, not {dtype.sql('trino').lower()}")
    message = "bound must be positive" if len(bounds) == 1 else "start value must be less than stop value"
    return template(
        f"CASE WHEN :m >= :n THEN error('INVALID_FUNCTION_ARGUMENT: {message}') "
        f"ELSE CAST(:m + floor(random() * (CAST(:n AS DOUBLE) - :m)) AS {_INTEGER_NAMES[dtype.this].upper()}) END",
        m=low,
        n=high,
    )


@udf("trino_sha512", ["BLOB"], "BLOB")
def _sha512(value: bytes) -> bytes:
    return hashlib.sha512(value).digest()


@translator(exp.SHA2Digest, exp.SHA2)
def sha2(node: exp.Expression) -> exp.Expression | None:
    """sha512: sqlglot writes DuckDB's SHA256 for any length."""
    length = node.args.get("length")
    if length is None or length.name == "256":
        return None
    return call("trino_sha512", node.this)


@udf("trino_bit_count", ["BIGINT", "BIGINT"], "BIGINT")
def _bit_count(value: int, bits: int) -> int:
    """The 1 bits of value as a two's-complement integer of `bits` bits (2..64), which must hold it."""
    if not 2 <= bits <= 64:
        raise ValueError(f"Bits specified in bit_count must be between 2 and 64, got {bits}")
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise ValueError(
            f"Number must be representable with the bits specified. {value} cannot be represented with {bits} bits"
        )
    return bin(value & ((1 << bits) - 1)).count("1")


@translator("bit_count")
def bit_count(node: exp.Anonymous) -> exp.Expression | None:
    """bit_count(x, bits) (https://trino.io/docs/current/functions/bitwise.html#bit_count); DuckDB's takes one."""
    if len(node.expressions) != 2:
        raise QueryFailed("FUNCTION_NOT_FOUND: bit_count takes a number and a bit count")
    return call("trino_bit_count", *node.expressions)


@translator("e")
def euler(node: exp.Anonymous) -> exp.Expression:
    """e(): Euler's number (https://trino.io/docs/current/functions/math.html#e); DuckDB has no e()."""
    return cast(exp.Literal.string(repr(math.e)), "DOUBLE")
