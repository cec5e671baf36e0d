"""Map functions (https://trino.io/docs/current/functions/map.html).

Map equality ignores entry order and is NULL when a value is NULL; m[k] fails for a missing key where element_at
answers NULL; map_filter, transform_keys and transform_values run over DuckDB's map_entries.
"""

from __future__ import annotations

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.functions import cast, template, translator

T = exp.DataType.Type


def is_map(dtype: exp.DataType | None) -> bool:
    return dtype is not None and dtype.this == T.MAP


def equal(node: exp.Binary) -> exp.Expression | None:
    if not (is_map(tt.type_of(node.this)) and is_map(tt.type_of(node.expression))):
        return None
    same = template(
        "CASE WHEN :a IS NULL OR :b IS NULL THEN NULL WHEN cardinality(:a) <> cardinality(:b) THEN false "
        "WHEN len(list_filter(map_keys(:a), _k -> NOT map_contains(:b, _k))) > 0 THEN false "
        "WHEN len(list_filter(map_keys(:a), _k -> map_extract_value(:a, _k) <> map_extract_value(:b, _k))) > 0 "
        "THEN false WHEN len(list_filter(map_keys(:a), _k -> map_extract_value(:a, _k) IS NULL "
        "OR map_extract_value(:b, _k) IS NULL)) > 0 THEN NULL ELSE true END",
        a=node.this,
        b=node.expression,
    )
    return same if isinstance(node, exp.EQ) else template("NOT (:s)", s=same)


def subscript(node: exp.Bracket) -> exp.Expression:
    key = node.expressions[0]
    if node.args.get("safe"):
        return template("map_extract_value(:m, :k)", m=node.this, k=key)
    return template(
        "CASE WHEN NOT map_contains(:m, :k) THEN error('INVALID_FUNCTION_ARGUMENT: Key not present in map') "
        "ELSE map_extract_value(:m, :k) END",
        m=node.this,
        k=key,
    )


def _entry_lambda(function: exp.Lambda, body: exp.Expression | None = None) -> exp.Lambda:
    """(k, v) -> body as a one-argument lambda over a map entry struct {key, value}."""
    names = [identifier.name for identifier in function.expressions]
    fields = dict(zip(names, ("key", "value"), strict=False))

    def entry_field(node: exp.Expression) -> exp.Expression:
        field_name = isinstance(node.parent, exp.Dot) and node.arg_key == "expression"
        if isinstance(node, exp.Identifier) and node.name in fields and not field_name:
            return template(f"_entry.{fields[node.name]}")
        if isinstance(node, exp.Column) and not node.table and node.name in fields:
            return template(f"_entry.{fields[node.name]}")
        return node

    rewritten = (body or function.this).copy().transform(entry_field)
    return exp.Lambda(this=rewritten, expressions=[exp.to_identifier("_entry")])


@translator("map_filter")
def map_filter(node: exp.Anonymous) -> exp.Expression:
    mapping, function = node.expressions
    keep = _entry_lambda(function)
    return template("map_from_entries(list_filter(map_entries(:m), :f))", m=mapping, f=keep)


@translator("transform_keys", "transform_values")
def transform_entries(node: exp.Anonymous) -> exp.Expression:
    mapping, function = node.expressions
    computed = _entry_lambda(function)
    if node.name.lower() == "transform_keys":
        entry = template("struct_pack(key := :v, value := _entry.value)", v=computed.this)
    else:
        entry = template("struct_pack(key := _entry.key, value := :v)", v=computed.this)
    transform = exp.Lambda(this=entry, expressions=[exp.to_identifier("_entry")])
    return template("map_from_entries(list_transform(map_entries(:m), :f))", m=mapping, f=transform)


def _common_map_type(types: list[exp.DataType | None]) -> exp.DataType | None:
    """The map type maps of `types` coerce to when their numeric keys or values differ, else None."""
    if not types or not all(is_map(t) and len(t.expressions) == 2 for t in types):
        return None
    parts = []
    for index in (0, 1):
        members = [t.expressions[index] for t in types]
        if any(m.this in (T.NULL, T.UNKNOWN) for m in members):
            return None
        if all(m == members[0] for m in members):
            parts.append(members[0])
            continue
        common = tt.common_type(members)
        if common is None:
            return None
        parts.append(common)
    return exp.DataType(this=T.MAP, expressions=parts, nested=True)


@translator("map_concat")
def map_concat(node: exp.Anonymous) -> exp.Expression:
    """NULL if any argument is NULL; later maps win on a repeated key (DuckDB's map_concat does the same)."""
    arguments = node.expressions
    common = _common_map_type([tt.type_of(a) for a in arguments])
    if common is not None:  # Trino coerces the maps to one type: MAP(DECIMAL(2,1), DECIMAL(4,2)) and so on
        arguments = [cast(a, common) for a in arguments]  # DuckDB may type a literal otherwise (0002.2)
    nulls = " OR ".join(f":m{i} IS NULL" for i in range(len(arguments)))
    values = {f"m{i}": a for i, a in enumerate(arguments)}
    joined = exp.Anonymous(this="map_concat", expressions=[a.copy() for a in arguments])
    return template(f"CASE WHEN {nulls} THEN NULL ELSE :joined END", joined=joined, **values)


@translator("multimap_from_entries")
def multimap_from_entries(node: exp.Anonymous) -> exp.Expression:
    """A map from each distinct key (in first-seen order) to the array of its values (in order); a NULL key fails.
    https://trino.io/docs/current/functions/map.html#multimap_from_entries"""
    from localaws.athena.functions.arrays import DISTINCT

    entries = node.expressions[0]
    if isinstance(entries, exp.Array) and not entries.expressions:
        return template("CASE WHEN :e IS NULL THEN NULL ELSE MAP() END", e=entries)  # ARRAY[]: no entries
    keys = template(DISTINCT, a=template("list_transform(:e, _m -> struct_extract_at(_m, 1))", e=entries))
    values = template(
        "list_transform(:k, _mk -> list_transform(list_filter(:e, _m -> struct_extract_at(_m, 1) = _mk), "
        "_m -> struct_extract_at(_m, 2)))",
        k=keys,
        e=entries,
    )
    return template(
        "CASE WHEN :e IS NULL THEN NULL WHEN list_contains(list_transform(:e, _m -> struct_extract_at(_m, 1) IS NULL), "
        "true) THEN error('INVALID_FUNCTION_ARGUMENT: map key cannot be null') ELSE map(:k, :v) END",
        e=entries,
        k=keys,
        v=values,
    )


@translator(exp.Map)
def map_(node: exp.Map) -> exp.Expression | None:
    """map(keys, values) with array keys: a key holding NULL cannot be compared, which Trino refuses."""
    keys = node.args.get("keys")
    key_type = tt.type_of(keys)
    if key_type is None or key_type.this != T.ARRAY or not key_type.expressions:
        return None
    if key_type.expressions[0].this != T.ARRAY:
        return None
    return template(
        "CASE WHEN len(list_filter(:k, _mk -> list_contains(list_transform(_mk, _mx -> _mx IS NULL), true))) > 0 "
        "THEN error('NOT_SUPPORTED: map key cannot be indeterminate') ELSE :m END",
        k=keys,
        m=node.copy(),
    )


@translator("map_entries")
def map_entries(node: exp.Anonymous) -> exp.Expression:
    """An array of anonymous ROW(key, value) in Trino, which Athena prints {field0=k, field1=v}; DuckDB names the
    fields key and value."""
    return template(
        "list_transform(map_entries(:m), _me -> struct_pack(field0 := _me.key, field1 := _me.value))",
        m=node.expressions[0],
    )
