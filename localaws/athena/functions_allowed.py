"""The functions Athena (engine v3, Trino) has: the sandbox's allow-list. Nothing else reaches DuckDB.

Names follow Trino's function reference, one set per documentation family, and Athena's list of engine v3 functions:
https://trino.io/docs/current/functions/list.html, https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html.
A name missing here fails the query with FUNCTION_NOT_FOUND before DuckDB sees it; a DuckDB-only function
(`read_text`, `glob`, `duckdb_settings`, `current_setting`, `getenv`…) can therefore never run, whatever DuckDB adds
later. To support a new Trino function, add its name to its family here and its translation to the dialect.
"""

from __future__ import annotations

# https://trino.io/docs/current/functions/aggregate.html
AGGREGATE = {
    "any_value", "approx_distinct", "approx_most_frequent", "approx_percentile", "approx_set", "arbitrary",
    "array_agg", "avg", "bitwise_and_agg", "bitwise_or_agg", "bitwise_xor_agg", "bool_and", "bool_or", "checksum",
    "corr", "count", "count_if", "covar_pop", "covar_samp", "every", "geometric_mean", "histogram", "kurtosis",
    "listagg", "map_agg", "map_union", "max", "max_by", "merge", "min", "min_by", "multimap_agg", "numeric_histogram",
    "qdigest_agg", "reduce_agg", "regr_intercept", "regr_slope", "set_agg", "set_union", "skewness", "stddev",
    "stddev_pop", "stddev_samp", "sum", "tdigest_agg", "var_pop", "var_samp", "variance",
}  # fmt: skip
# https://trino.io/docs/current/functions/window.html
WINDOW = {
    "cume_dist", "dense_rank", "first_value", "lag", "last_value", "lead", "nth_value", "ntile", "percent_rank",
    "rank", "row_number",
}  # fmt: skip
# https://trino.io/docs/current/functions/conditional.html, .../comparison.html, .../conversion.html
CONDITIONAL = {"coalesce", "greatest", "if", "least", "nullif", "try", "try_cast", "cast", "format", "typeof"}
# https://trino.io/docs/current/functions/math.html, .../bitwise.html, .../decimal.html
MATH = {
    "abs", "acos", "asin", "atan", "atan2", "beta_cdf", "cbrt", "ceil", "ceiling", "cos", "cosh",
    "cosine_distance", "cosine_similarity", "degrees", "e", "exp", "floor", "from_base", "infinity", "inverse_beta_cdf",
    "inverse_normal_cdf", "is_finite", "is_infinite", "is_nan", "ln", "log", "log10", "log2", "mod", "nan",
    "normal_cdf", "pi", "pow", "power", "radians", "rand", "random", "round", "sign", "sin", "sinh", "sqrt", "tan",
    "tanh", "to_base", "truncate", "width_bucket", "wilson_interval_lower", "wilson_interval_upper",
    "bit_count", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift",
    "bitwise_right_shift_arithmetic", "bitwise_xor",
}  # fmt: skip
# https://trino.io/docs/current/functions/string.html, .../regexp.html, .../binary.html
STRING = {
    "chr", "codepoint", "concat", "concat_ws", "char_length", "character_length", "hamming_distance", "length",
    "levenshtein_distance", "lower", "lpad", "ltrim", "luhn_check", "normalize", "position", "replace", "reverse",
    "rpad", "rtrim", "soundex", "split", "split_part", "split_to_map", "split_to_multimap", "starts_with", "strpos",
    "substr", "substring", "to_utf8", "from_utf8", "translate", "trim", "upper", "word_stem",
    "regexp_count", "regexp_extract", "regexp_extract_all", "regexp_like", "regexp_position", "regexp_replace",
    "regexp_split",
    "crc32", "from_base32", "from_base64", "from_base64url", "from_big_endian_32", "from_big_endian_64", "from_hex",
    "from_ieee754_32", "from_ieee754_64", "hmac_md5", "hmac_sha1", "hmac_sha256", "hmac_sha512", "md5", "murmur3",
    "sha1", "sha256", "sha512", "spooky_hash_v2_32", "spooky_hash_v2_64", "to_base32", "to_base64", "to_base64url",
    "to_big_endian_32", "to_big_endian_64", "to_hex", "to_ieee754_32", "to_ieee754_64", "xxhash64",
}  # fmt: skip
# https://trino.io/docs/current/functions/datetime.html
DATETIME = {
    "at_timezone", "current_date", "current_time", "current_timestamp", "current_timezone", "date", "date_add",
    "date_diff", "date_format", "date_parse", "date_trunc", "day", "day_of_month", "day_of_week", "day_of_year",
    "dow", "doy", "extract", "format_datetime", "from_iso8601_date", "from_iso8601_timestamp",
    "from_iso8601_timestamp_nanos", "from_unixtime", "from_unixtime_nanos", "hour", "human_readable_seconds",
    "last_day_of_month", "localtime", "localtimestamp", "millisecond", "minute", "month", "now", "parse_datetime",
    "parse_duration", "quarter", "second", "timezone_hour", "timezone_minute", "to_iso8601", "to_milliseconds",
    "to_unixtime", "week", "week_of_year", "with_timezone", "year", "year_of_week", "yow",
}  # fmt: skip
# https://trino.io/docs/current/functions/json.html
JSON = {
    "is_json_scalar", "json_array_contains", "json_array_get", "json_array_length", "json_exists", "json_extract",
    "json_extract_scalar", "json_format", "json_parse", "json_query", "json_size", "json_value", "json_object",
    "json_array",
}  # fmt: skip
# https://trino.io/docs/current/functions/array.html, .../map.html, .../lambda.html
ARRAY_MAP = {
    "all_match", "any_match", "array_distinct", "array_except", "array_histogram", "array_intersect", "array_join",
    "array_max", "array_min", "array_position", "array_remove", "array_sort", "array_union", "arrays_overlap",
    "cardinality", "combinations", "contains", "contains_sequence", "element_at", "filter", "flatten", "ngrams",
    "none_match", "reduce", "repeat", "sequence", "shuffle", "slice", "transform", "trim_array", "zip", "zip_with",
    "map", "map_concat", "map_entries", "map_filter", "map_from_entries", "map_keys", "map_values",
    "multimap_from_entries", "transform_keys", "transform_values", "map_zip_with", "row",
}  # fmt: skip
# https://trino.io/docs/current/functions/url.html, .../uuid.html, .../ipaddress.html, .../session.html
OTHER = {
    "url_decode", "url_encode", "url_extract_fragment", "url_extract_host", "url_extract_parameter",
    "url_extract_path", "url_extract_port", "url_extract_protocol", "url_extract_query", "uuid", "contains",
    "current_user", "current_catalog", "current_schema", "current_groups",
}  # fmt: skip
# https://trino.io/docs/current/functions/table.html: Trino's only table-valued form in FROM besides UNNEST.
TABLE_FUNCTIONS: set[str] = set()

TRINO_FUNCTIONS: frozenset[str] = frozenset(
    AGGREGATE | WINDOW | CONDITIONAL | MATH | STRING | DATETIME | JSON | ARRAY_MAP | OTHER
)


def is_allowed(name: str) -> bool:
    """True when `name` (as written, any case) is a function Athena engine v3 has."""
    return name.lower() in TRINO_FUNCTIONS
