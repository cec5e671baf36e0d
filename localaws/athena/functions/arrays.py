"""Array functions with Trino's NULL and order semantics (https://trino.io/docs/current/functions/array.html).

DuckDB's list functions drop NULL elements (list_distinct), lose the input order (list_distinct, array_intersect),
answer false where Trino answers NULL (contains over an array holding NULL), count sequences upward only, and read
repeat() as string repetition, and have no comparator sort. Each translation below keeps Trino's answer.
"""

from __future__ import annotations

import functools

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.errors import QueryFailed
from localaws.athena.functions import template, translator, udf

T = exp.DataType.Type
NESTED = (T.ARRAY, T.MAP, T.STRUCT)

# The first occurrence of every element, NULL included, in input order.
DISTINCT = (
    "list_filter(:a, (_e, _i) -> len(list_filter(list_slice(:a, 1, _i - 1), _p -> _p IS NOT DISTINCT FROM _e)) = 0)"
)
HAS_NULL = "len(list_filter(:a, _n -> _n IS NULL)) > 0"


def _has(array: str, element: str) -> str:
    return f"len(list_filter({array}, _h -> _h IS NOT DISTINCT FROM {element})) > 0"


@translator(exp.ArrayContains)
def contains(node: exp.ArrayContains) -> exp.Expression:
    """true if found; NULL if not found but the array holds NULL, or if the element is NULL. Over nested arrays an
    element that compares indeterminate (it or the value holds NULL) before any match fails: NOT_SUPPORTED."""
    codes = _searched(node.this, node.expression)
    if codes is not None:
        first = _first_decisive(codes)
        return template(
            f"CASE WHEN :a IS NULL OR :x IS NULL THEN NULL WHEN :f = 0 THEN "
            f"CASE WHEN list_contains(:k, {_NULL_ELEMENT}) THEN NULL ELSE false END "
            f"WHEN list_extract(:k, :f) = {_INDETERMINATE} THEN {_indeterminate('contains')} ELSE true END",
            a=node.this,
            x=node.expression,
            k=codes,
            f=first,
        )
    return template(
        f"CASE WHEN :a IS NULL OR :x IS NULL THEN NULL WHEN list_contains(:a, :x) THEN true "
        f"WHEN {HAS_NULL} THEN NULL ELSE false END",
        a=node.this,
        x=node.expression,
    )


@translator(exp.ArrayDistinct)
def array_distinct(node: exp.ArrayDistinct) -> exp.Expression:
    return template(DISTINCT, a=node.this)


@translator(exp.ArrayMin, exp.ArrayMax)
def array_min(node: exp.Func) -> exp.Expression:
    name = "list_min" if isinstance(node, exp.ArrayMin) else "list_max"
    return template(f"CASE WHEN {HAS_NULL} THEN NULL ELSE {name}(:a) END", a=node.this)


@translator(exp.ArrayPosition)
def array_position(node: exp.ArrayPosition) -> exp.Expression:
    """1-based position of the first match, 0 when absent, NULL for a NULL element; over nested arrays an
    indeterminate comparison before the first match fails (NOT_SUPPORTED), as in contains."""
    codes = _searched(node.this, node.expression)
    if codes is not None:
        first = _first_decisive(codes)
        return template(
            f"CASE WHEN :a IS NULL OR :x IS NULL THEN NULL WHEN :f > 0 AND list_extract(:k, :f) = {_INDETERMINATE} "
            f"THEN {_indeterminate('array_position')} ELSE CAST(:f AS BIGINT) END",
            a=node.this,
            x=node.expression,
            k=codes,
            f=first,
        )
    return template(
        "CASE WHEN :a IS NULL OR :x IS NULL THEN NULL ELSE CAST(coalesce(list_position(:a, :x), 0) AS BIGINT) END",
        a=node.this,
        x=node.expression,
    )


@translator(exp.ArrayRemove)
def array_remove(node: exp.ArrayRemove) -> exp.Expression:
    """Every element equal to x removed, NULL elements kept; over nested arrays any indeterminate comparison fails
    (NOT_SUPPORTED)."""
    codes = _searched(node.this, node.expression)
    if codes is not None:
        return template(
            f"CASE WHEN :a IS NULL OR :x IS NULL THEN NULL WHEN list_contains(:k, {_INDETERMINATE}) "
            f"THEN {_indeterminate('array_remove')} "
            f"ELSE list_filter(:a, (_r, _ri) -> list_extract(:k, _ri) <> {_TRUE}) END",
            a=node.this,
            x=node.expression,
            k=codes,
        )
    return template(
        "CASE WHEN :x IS NULL THEN NULL ELSE list_filter(:a, _r -> _r IS NULL OR _r <> :x) END",
        a=node.this,
        x=node.expression,
    )


@translator(exp.ArrayIntersect)
def array_intersect(node: exp.ArrayIntersect) -> exp.Expression:
    """Trino walks the longer array (the first on a tie) and keeps what the other holds, each once."""
    a, b = node.expressions if node.expressions else (node.this, node.expression)
    first = template(DISTINCT, a=template(f"list_filter(:a, _k -> {_has(':b', '_k')})", a=a, b=b))
    second = template(DISTINCT, a=template(f"list_filter(:b, _k -> {_has(':a', '_k')})", a=a, b=b))
    return template("CASE WHEN len(:a) < len(:b) THEN :y ELSE :x END", a=a, b=b, x=first, y=second)


@translator(exp.ArrayExcept)
def array_except(node: exp.ArrayExcept) -> exp.Expression:
    kept = template(f"list_filter(:a, _k -> NOT ({_has(':b', '_k')}))", a=node.this, b=node.expression)
    return template("CASE WHEN :b IS NULL THEN NULL ELSE :k END", b=node.expression, k=template(DISTINCT, a=kept))


@translator("array_union")
def array_union(node: exp.Anonymous) -> exp.Expression:
    a, b = node.expressions
    return template(DISTINCT, a=template("list_concat(:a, :b)", a=a, b=b))


@translator("arrays_overlap")
def arrays_overlap(node: exp.Anonymous) -> exp.Expression:
    """true if a non-NULL element is in both; NULL if not but either holds NULL; false otherwise."""
    a, b = node.expressions
    common = "len(list_filter(:a, _o -> _o IS NOT NULL AND list_contains(:b, _o))) > 0"
    return template(
        f"CASE WHEN :a IS NULL OR :b IS NULL THEN NULL WHEN len(:a) = 0 OR len(:b) = 0 THEN false "
        f"WHEN {common} THEN true "
        "WHEN len(list_filter(:a, _n -> _n IS NULL)) > 0 OR len(list_filter(:b, _n -> _n IS NULL)) > 0 THEN NULL "
        "ELSE false END",
        a=a,
        b=b,
    )


@translator(exp.ArraySlice)
def slice_(node: exp.ArraySlice) -> exp.Expression:
    """slice(a, start, length): start counts from the end when negative; start 0 is an error."""
    start, length = node.args.get("start"), node.args.get("end")
    return template(
        "CASE WHEN :s = 0 THEN error('INVALID_FUNCTION_ARGUMENT: SQL array indices start at 1') "
        "WHEN :n < 0 THEN error('INVALID_FUNCTION_ARGUMENT: length must be greater than or equal to 0') "
        "WHEN :s > 0 THEN list_slice(:a, :s, :s + :n - 1) "
        "WHEN -:s > len(:a) THEN list_slice(:a, 1, 0) "
        "ELSE list_slice(:a, len(:a) + :s + 1, len(:a) + :s + :n) END",
        a=node.this,
        s=start,
        n=length,
    )


@translator(exp.GenerateSeries)
def sequence(node: exp.GenerateSeries) -> exp.Expression:
    """sequence(start, stop[, step]) counts down when start > stop; over DATEs it stays DATE."""
    start, stop, step = node.args["start"], node.args["end"], node.args.get("step")
    start_type = tt.type_of(start)
    is_date = start_type is not None and start_type.this == exp.DataType.Type.DATE
    if step is None:
        unit = "INTERVAL 1 DAY" if is_date else "1"
        step = template(f"CASE WHEN :a <= :b THEN {unit} ELSE -{unit} END", a=start, b=stop)
    series = template("generate_series(:a, :b, :c)", a=start, b=stop, c=step)
    if is_date:
        series = template(
            "CASE WHEN date_part('year', :c) = 0 AND date_part('month', :c) = 0 AND epoch(:c) % 86400 <> 0 THEN "
            "error('INVALID_FUNCTION_ARGUMENT: sequence step must be a day "
            "interval if start and end values are dates') ELSE CAST(:s AS DATE[]) END",
            c=step,
            s=series,
        )
    return template(
        "CASE WHEN :a < :b AND NOT (:a + :c > :a) THEN error('INVALID_FUNCTION_ARGUMENT: sequence step must be "
        "positive for increasing sequence') WHEN :a > :b AND NOT (:a + :c < :a) THEN error('INVALID_FUNCTION_ARGUMENT: "
        "sequence step must be negative for decreasing sequence') WHEN len(:s) > 10000 THEN "
        "error('INVALID_FUNCTION_ARGUMENT: result of sequence function must not have more than 10000 entries') "
        "ELSE :s END",
        a=start,
        b=stop,
        c=step,
        s=series,
    )


@translator(exp.Repeat)
def repeat(node: exp.Repeat) -> exp.Expression:
    """repeat(element, count) is an array of count copies in Trino, of at most 10,000 entries and 1,000,000 bytes
    of strings."""
    dtype = tt.type_of(node.this)
    too_big = ""
    if dtype is None or dtype.this in (T.VARCHAR, T.TEXT, T.CHAR):
        too_big = (
            "WHEN typeof(:x) = 'VARCHAR' AND strlen(CAST(:x AS VARCHAR)) * :n > 1000000 THEN "
            "error('INVALID_FUNCTION_ARGUMENT: result of repeat function must not take more than 1000000 bytes') "
        )
    return template(
        "CASE WHEN :n < 0 THEN error('INVALID_FUNCTION_ARGUMENT: count argument of repeat function must be "
        "greater than or equal to 0') WHEN :n > 10000 THEN error('INVALID_FUNCTION_ARGUMENT: count argument of "
        "repeat function must be less than or equal to 10000') "
        f"{too_big}ELSE list_transform(generate_series(1, :n), _t -> :x) END",
        x=node.this,
        n=node.args.get("times"),
    )


def bind_lambda(function: exp.Lambda, *values: exp.Expression) -> exp.Expression:
    """The body of `function` with its parameters replaced by `values` (in order)."""
    bound = dict(zip((p.name for p in function.expressions), values, strict=False))

    def replace(inner: exp.Expression) -> exp.Expression:
        is_name = isinstance(inner, exp.Column) and not inner.table
        is_name = is_name or (isinstance(inner, exp.Identifier) and not isinstance(inner.parent, (exp.Column, exp.Dot)))
        if is_name and inner.name in bound:
            return exp.Paren(this=bound[inner.name].copy())
        return inner

    return function.this.copy().transform(replace)


@udf("trino_sort_positions", ["BIGINT[][]"], "BIGINT[]")
def _sort_positions(comparisons: list[list[int | None]]) -> list[int]:
    """The 1-based positions of the elements in sorted order, given comparator(a[i], a[j]) for every pair: a stable
    TimSort, as Java's List.sort that Trino calls (Python's sort is the same algorithm), so that even an inconsistent
    comparator (NULL before everything, NULL included) answers as in Trino. Only the comparisons the sort makes are
    checked: Trino fails on a result other than -1, 0 or 1."""

    def compare(i: int, j: int) -> int:
        result = comparisons[i][j]
        if result not in (-1, 0, 1):
            raise ValueError("Lambda comparator must return either -1, 0, or 1")
        return result

    return [i + 1 for i in sorted(range(len(comparisons)), key=functools.cmp_to_key(compare))]


@translator(exp.ArraySort)
def array_sort(node: exp.ArraySort) -> exp.Expression | None:
    """array_sort(a, (x, y) -> c) sorts by the comparator (negative: x first, 0: equal, positive: y first). DuckDB
    has no comparator sort: the comparator runs on every pair, and trino_sort_positions sorts by the answers."""
    function = node.expression
    if function is None:
        return None
    if not isinstance(function, exp.Lambda) or len(function.expressions) != 2:
        raise QueryFailed("FUNCTION_NOT_FOUND: array_sort takes an array and a lambda (x, y) -> comparison")
    element = functools.partial(template, "list_extract(:a, :i)", a=node.this)
    compare = bind_lambda(function, element(i=exp.column("_si")), element(i=exp.column("_sj")))
    comparisons = template(
        "list_transform(generate_series(1, len(:a)), _si -> "
        "list_transform(generate_series(1, len(:a)), _sj -> CAST(:c AS BIGINT)))",
        a=node.this,
        c=compare,
    )
    return template(
        "CASE WHEN :a IS NULL THEN NULL "
        "ELSE list_transform(trino_sort_positions(:m), _sr -> list_extract(:a, _sr)) END",
        a=node.this,
        m=comparisons,
    )


@translator(exp.ArraySize)
def cardinality(node: exp.ArraySize) -> exp.Expression:
    dtype = tt.type_of(node.this)
    if dtype is not None and dtype.this == exp.DataType.Type.MAP:
        return template("cardinality(:a)", a=node.this)
    return template("len(:a)", a=node.this)


def element_type(array_type: exp.DataType | None) -> exp.DataType | None:
    if array_type is None or array_type.this != exp.DataType.Type.ARRAY or not array_type.expressions:
        return None
    return array_type.expressions[0]


@translator(exp.ArrayToString)
def array_join(node: exp.ArrayToString) -> exp.Expression:
    """NULL elements are skipped (or replaced); elements print as CAST(e AS VARCHAR) does (doubles as 1.0E0)."""
    from localaws.athena.functions.casts import to_text
    from localaws.athena.functions.strings import joined

    element = exp.column("_j")
    element.type = element_type(tt.type_of(node.this))
    if element.type is not None and element.type.is_type(*NESTED):
        raise QueryFailed(f"FUNCTION_NOT_FOUND: array_join does not take an array of {element.type.sql('trino')}")
    text = to_text(element, element.type) if element.type is not None else None
    text = text or template("CAST(_j AS VARCHAR)")
    replacement = node.args.get("null")
    if replacement is not None:
        text = template("coalesce(:t, :r)", t=text, r=replacement)
    texts = template("list_transform(:a, _j -> :t)", a=node.this, t=text)
    return joined(template("list_filter(:l, _f -> _f IS NOT NULL)", l=texts), node.expression)


def is_array(dtype: exp.DataType | None) -> bool:
    return dtype is not None and dtype.this == T.ARRAY


@translator(exp.Reverse)
def reverse(node: exp.Reverse) -> exp.Expression | None:
    return template("list_reverse(:a)", a=node.this) if is_array(tt.type_of(node.this)) else None


def _match(node: exp.Anonymous, decisive: str, answer: str) -> exp.Expression:
    """any/all/none_match: `answer` once an element tests `decisive`; else NULL if one tests NULL; else NOT answer."""
    array, function = node.expressions
    tested = template("list_transform(:a, :f)", a=array, f=function)
    return template(
        f"CASE WHEN :a IS NULL THEN NULL WHEN list_contains(:m, {decisive}) THEN {answer} "
        f"WHEN len(list_filter(:m, _v -> _v IS NULL)) > 0 THEN NULL ELSE NOT {answer} END",
        a=array,
        m=tested,
    )


@translator("any_match")
def any_match(node: exp.Anonymous) -> exp.Expression:
    return _match(node, "true", "true")


@translator("all_match")
def all_match(node: exp.Anonymous) -> exp.Expression:
    return _match(node, "false", "false")


@translator("none_match")
def none_match(node: exp.Anonymous) -> exp.Expression:
    return _match(node, "true", "false")


def trino_equal(a: exp.Expression, b: exp.Expression, dtype: exp.DataType | None, depth: int = 0) -> exp.Expression:
    """Trino's = on two values of `dtype`: for arrays, false when the lengths or a pair of elements differ, else NULL
    (indeterminate) when a pair holds NULL or compares NULL, else true; nested arrays compare so at every level."""
    element = element_type(dtype)
    if not is_array(dtype):
        return template(":a = :b", a=a, b=b)
    i, v = f"_q{depth}", f"_v{depth}"
    pair = trino_equal(
        template(f"list_extract(:a, {i})", a=a), template(f"list_extract(:b, {i})", b=b), element, depth + 1
    )
    pairs = template(f"list_transform(generate_series(1, len(:a)), {i} -> :p)", a=a, p=pair)
    return template(
        f"CASE WHEN :a IS NULL OR :b IS NULL THEN NULL WHEN len(:a) <> len(:b) THEN false "
        f"WHEN list_contains(:r, false) THEN false WHEN len(list_filter(:r, {v} -> {v} IS NULL)) > 0 THEN NULL "
        "ELSE true END",
        a=a,
        b=b,
        r=pairs,
    )


def equal(node: exp.Binary) -> exp.Expression | None:
    """Array = and <> (https://trino.io/docs/current/functions/comparison.html): see trino_equal."""
    left, right = tt.type_of(node.this), tt.type_of(node.expression)
    if not (is_array(left) and is_array(right)):
        return None
    same = trino_equal(node.this, node.expression, left)
    return same if isinstance(node, exp.EQ) else template("NOT (:s)", s=same)


# What comparing each element of an array with a value found, for the search functions over nested arrays.
_FALSE, _TRUE, _INDETERMINATE, _NULL_ELEMENT = 0, 1, 2, 3


def _searched(array: exp.Expression, value: exp.Expression) -> exp.Expression | None:
    """For an array of arrays, the code (_FALSE.._NULL_ELEMENT) of each element compared with `value`; None for
    other arrays, whose elements never compare indeterminate."""
    element = element_type(tt.type_of(array))
    if not is_array(element):
        return None
    compared = trino_equal(exp.column("_c"), value, element, depth=1)
    return template(
        f"list_transform(:a, _c -> CASE WHEN _c IS NULL THEN {_NULL_ELEMENT} "
        f"ELSE coalesce(CAST(:e AS INTEGER), {_INDETERMINATE}) END)",
        a=array,
        e=compared,
    )


def _indeterminate(function: str) -> str:
    return f"error('NOT_SUPPORTED: {function} does not support arrays with elements that are null or contain null')"


def _first_decisive(codes: exp.Expression) -> exp.Expression:
    """The 1-based position of the first element that matched or compared indeterminate; 0 if none did."""
    return template(
        f"coalesce(list_position(list_transform(:k, _k -> _k IN ({_TRUE}, {_INDETERMINATE})), true), 0)", k=codes
    )


_NUMERIC = {*tt.INTEGERS, *tt.FLOATING, T.DECIMAL}
_TEXTUAL = {T.VARCHAR, T.TEXT, T.CHAR}


def _coercible(a: exp.DataType | None, b: exp.DataType | None) -> bool:
    """Whether Trino finds a common type for values of `a` and `b` (unknown types are given the benefit)."""
    if a is None or b is None or T.NULL in (a.this, b.this) or T.UNKNOWN in (a.this, b.this):
        return True
    if (a.this in _NUMERIC and b.this in _NUMERIC) or (a.this in _TEXTUAL and b.this in _TEXTUAL):
        return True
    if a.this != b.this:
        return False
    if a.this == T.ARRAY:
        return _coercible(element_type(a), element_type(b))
    return True


@translator(exp.DPipe)
def concat(node: exp.DPipe) -> exp.Expression | None:
    """array || element and element || array append and prepend in Trino."""
    left, right = tt.type_of(node.this), tt.type_of(node.expression)
    if left is None or right is None:
        return None
    if is_array(left) and is_array(right):
        right_element = element_type(right)
        if right_element is not None and right_element.this == T.NULL and is_array(element_type(left)):
            # ARRAY[NULL] is as much an array of arrays as an array element: Trino cannot choose
            raise QueryFailed("AMBIGUOUS_FUNCTION_CALL: Could not choose a best candidate operator for concat")
        concatenable = _coercible(left, right)
        if not (concatenable or _coercible(element_type(left), right) or _coercible(left, element_type(right))):
            # DuckDB casts booleans to integers; Trino has no concat for these types
            raise QueryFailed(
                f"FUNCTION_NOT_FOUND: Unexpected parameters ({left.sql('trino').lower()}, "
                f"{right.sql('trino').lower()}) for function concat"
            )
    if is_array(left) and (not is_array(right) or element_type(left) == right):
        return template("list_append(:a, :x)", a=node.this, x=node.expression)
    if is_array(right) and (not is_array(left) or element_type(right) == left):
        return template("list_prepend(:x, :a)", a=node.expression, x=node.this)
    return None


@translator(exp.Bracket)
def subscript(node: exp.Bracket) -> exp.Expression | None:
    """a[i] fails outside 1..cardinality(a); element_at(a, i) is NULL there, counts from the end when negative."""
    dtype = tt.type_of(node.this)
    if dtype is not None and dtype.this == T.MAP and len(node.expressions) == 1:
        from localaws.athena.functions.maps import subscript as map_subscript

        return map_subscript(node)
    if not is_array(dtype) or len(node.expressions) != 1:
        subscript_as_written = node.copy()
        subscript_as_written.set("offset", 1)  # the parser kept the index 1-based (see dialect.Athena)
        return subscript_as_written
    index = node.expressions[0]
    if node.args.get("safe"):
        return template(
            "CASE WHEN :i = 0 THEN error('INVALID_FUNCTION_ARGUMENT: SQL array indices start at 1') "
            "ELSE list_extract(:a, :i) END",
            a=node.this,
            i=index,
        )
    return template(
        "CASE WHEN :i < 1 THEN error('INVALID_FUNCTION_ARGUMENT: Array subscript is negative or zero') "
        "WHEN :i > len(:a) THEN error('INVALID_FUNCTION_ARGUMENT: Array subscript must be less than or equal to "
        "array length') ELSE list_extract(:a, :i) END",
        a=node.this,
        i=index,
    )


@translator(exp.Reduce)
def reduce(node: exp.Reduce) -> exp.Expression:
    """reduce(array, initial, (s, x) -> ..., s -> finish): DuckDB's list_reduce has no finish, so the finish
    lambda's body is applied with its parameter bound to the reduction."""
    reduced = template("list_reduce(:a, :f, :i)", a=node.this, f=node.args["merge"], i=node.args["initial"])
    finish = node.args.get("finish")
    if finish is None:
        return reduced
    parameter = finish.expressions[0].name

    def bind(inner: exp.Expression) -> exp.Expression:
        if (
            isinstance(inner, (exp.Identifier, exp.Column))
            and inner.name == parameter
            and not isinstance(inner.parent, exp.Column)
        ):
            return exp.Paren(this=reduced.copy())
        return inner

    return finish.this.copy().transform(bind)
