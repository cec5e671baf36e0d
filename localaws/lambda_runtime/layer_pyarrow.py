"""The AWS SDK for pandas layer's pyarrow, emulated on a full pyarrow: codecs the layer was not built with are refused.

The layer compiles Arrow itself with ARROW_WITH_SNAPPY=ON and ARROW_WITH_ZLIB=ON, and ARROW_WITH_ZSTD, _LZ4, _BROTLI
and _BZ2 OFF (building/lambda/build-lambda-layer.sh of aws/aws-sdk-pandas; aws/aws-sdk-pandas#2445). On such a build,
Arrow's Codec::Create answers `NotImplemented: Support for codec '<name>' not built`, which pyarrow raises as
ArrowNotImplementedError. PyPI's pyarrow has every codec, so this module makes the same calls fail the same way:
- pa.Codec(name), pa.Codec.is_available (False), pa.compress / pa.decompress;
- pa.ipc.IpcWriteOptions(compression=...) and its `compression` setter (IPC can only use lz4_frame or zstd);
  (the names in pyarrow and pyarrow.ipc; pyarrow.lib keeps its own, as Cython modules import its types by name);
- Parquet writes (pq.ParquetWriter, so pq.write_table and DataFrame.to_parquet) and Parquet reads of column chunks
  compressed with a missing codec (pq.ParquetFile reads, pq.read_table / ParquetDataset.read);
- pyarrow.feather.write_feather (whose default becomes uncompressed, as lz4 is not available).
Not covered: the pyarrow.dataset writer's file options and reads of compressed IPC files (no writer here makes them).

Standard library only at import: the worker (bootstrap.py) and the Lambda-layer test environment load it by path,
so nothing of localaws becomes importable by the function. `install(built)` patches pyarrow now if it is imported,
else right after its first import.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import inspect
import sys
from collections.abc import Iterable
from typing import Any

# pyarrow's spellings of each codec, and the name Arrow's Codec::GetCodecAsString gives it in the error message.
ARROW_CODEC_NAMES = {
    "snappy": "snappy",
    "gzip": "gzip",
    "zlib": "gzip",
    "lz4": "lz4",
    "lz4_frame": "lz4",
    "lz4_raw": "lz4_raw",
    "lz4_hadoop": "lz4_hadoop",
    "zstd": "zstd",
    "brotli": "brotli",
    "bz2": "bz2",
}
_UNCOMPRESSED = {"none", "uncompressed"}
_PARQUET_NAMES = {"lz4": "lz4_hadoop"}  # Parquet's LZ4 is Arrow's LZ4_HADOOP codec

_state: dict[str, Any] = {"built": None, "patched": set()}


def install(built: Iterable[str]) -> None:
    """Refuses every codec but `built` (Arrow names: "snappy", "gzip") from now on, in this process."""
    _state["built"] = frozenset(built)
    for name in list(sys.modules):
        _patch_module(name)
    if not any(isinstance(finder, _PatchAfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport())


def refusal(codec: Any, *, parquet: bool = False) -> str | None:
    """The layer's error message for `codec` (a name or a pa.Codec), or None if the layer can use it."""
    if codec is None or _state["built"] is None:
        return None
    name = getattr(codec, "name", codec)
    if not isinstance(name, str):
        return None  # pyarrow reports its own error for a wrong type
    key = name.lower()
    if key in _UNCOMPRESSED:
        return None
    arrow_name = (_PARQUET_NAMES.get(key) if parquet else None) or ARROW_CODEC_NAMES.get(key)
    if arrow_name is None or ARROW_CODEC_NAMES.get(key) in _state["built"]:
        return None  # an unknown name: pyarrow's own ValueError applies
    return f"Support for codec '{arrow_name}' not built"


def _refuse(codec: Any, *, parquet: bool = False) -> None:
    message = refusal(codec, parquet=parquet)
    if message is not None:
        import pyarrow.lib

        raise pyarrow.lib.ArrowNotImplementedError(message)


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Wraps the loader of the pyarrow modules that need patching, so they are patched as soon as they execute."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in _PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _PatchingLoader(spec.loader, name)
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, name: str) -> None:
        self.loader, self.name = loader, name

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        _patch_module(self.name)

    def __getattr__(self, attribute: str) -> Any:  # get_resource_reader, is_package, ... of the real loader
        return getattr(self.loader, attribute)


def _patch_module(name: str) -> None:
    if name in _PATCHES and name in sys.modules and name not in _state["patched"]:
        _state["patched"].add(name)
        _PATCHES[name](sys.modules[name])


def _patch_lib(lib: Any) -> None:
    """Builds the refusing Codec and IpcWriteOptions. They are not put back into pyarrow.lib: Cython modules import
    pyarrow.lib's types by name (__pyx_vtable__), so the public modules get them instead (pyarrow, pyarrow.ipc)."""
    base_codec = lib.Codec

    class Codec(base_codec):  # type: ignore[misc, valid-type]
        __doc__ = base_codec.__doc__

        def __init__(self, compression: str, compression_level: int | None = None) -> None:
            _refuse(compression)
            super().__init__(compression, compression_level)

        @staticmethod
        def is_available(compression: str) -> bool:
            return refusal(compression) is None and base_codec.is_available(compression)

        @staticmethod
        def supports_compression_level(compression: str) -> bool:
            _refuse(compression)
            return base_codec.supports_compression_level(compression)

        @staticmethod
        def default_compression_level(compression: str) -> int:
            _refuse(compression)
            return base_codec.default_compression_level(compression)

        @staticmethod
        def minimum_compression_level(compression: str) -> int:
            _refuse(compression)
            return base_codec.minimum_compression_level(compression)

        @staticmethod
        def maximum_compression_level(compression: str) -> int:
            _refuse(compression)
            return base_codec.maximum_compression_level(compression)

    Codec.__name__ = Codec.__qualname__ = "Codec"
    Codec.__module__ = "pyarrow.lib"
    base_options = lib.IpcWriteOptions

    class IpcWriteOptions(base_options):  # type: ignore[misc, valid-type]
        __doc__ = base_options.__doc__

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            _refuse(kwargs.get("compression"))
            super().__init__(*args, **kwargs)

        @property
        def compression(self) -> Any:
            return base_options.compression.__get__(self)

        @compression.setter
        def compression(self, value: Any) -> None:
            _refuse(value)
            base_options.compression.__set__(self, value)

    IpcWriteOptions.__name__ = IpcWriteOptions.__qualname__ = "IpcWriteOptions"
    IpcWriteOptions.__module__ = "pyarrow.lib"
    _state["Codec"], _state["IpcWriteOptions"] = Codec, IpcWriteOptions
    _state["compress"] = _checked(lib.compress, "codec", default="lz4")
    _state["decompress"] = _checked(lib.decompress, "codec", default="lz4")


def _checked(function: Any, parameter: str, default: str | None = None, *, parquet: bool = False) -> Any:
    """`function`, refusing a missing codec passed as `parameter` (or its default) before it runs."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = inspect.signature(function).bind_partial(*args, **kwargs).arguments
        except (TypeError, ValueError):  # cython functions may not expose a signature: keyword only
            bound = kwargs
        value = bound.get(parameter, default)
        for codec in value.values() if isinstance(value, dict) else [value]:
            _refuse(codec, parquet=parquet)
        return function(*args, **kwargs)

    return wrapper


def _patch_pyarrow(pa: Any) -> None:
    _patch_module("pyarrow.lib")
    pa.Codec, pa.compress, pa.decompress = _state["Codec"], _state["compress"], _state["decompress"]


def _patch_ipc(ipc: Any) -> None:
    _patch_module("pyarrow.lib")
    ipc.IpcWriteOptions = _state["IpcWriteOptions"]


def _patch_feather(feather: Any) -> None:
    _patch_module("pyarrow.lib")
    feather.Codec = _state["Codec"]
    feather.write_feather = _checked(feather.write_feather, "compression")


def _refuse_compressed_chunks(metadata: Any) -> None:
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for column in range(row_group.num_columns):
            _refuse(row_group.column(column).compression, parquet=True)


def _reading(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse_compressed_chunks(self.metadata)
        return method(self, *args, **kwargs)

    return wrapper


def _patch_parquet_core(core: Any) -> None:
    writer_init = core.ParquetWriter.__init__
    core.ParquetWriter.__init__ = _checked(writer_init, "compression", default="snappy", parquet=True)
    for name in ("read", "read_row_group", "read_row_groups", "iter_batches"):
        setattr(core.ParquetFile, name, _reading(getattr(core.ParquetFile, name)))
    dataset_read = core.ParquetDataset.read

    @functools.wraps(dataset_read)
    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        for fragment in self._dataset.get_fragments():
            _refuse_compressed_chunks(fragment.metadata)
        return dataset_read(self, *args, **kwargs)

    core.ParquetDataset.read = read


_PATCHES = {
    "pyarrow.lib": _patch_lib,
    "pyarrow": _patch_pyarrow,
    "pyarrow.ipc": _patch_ipc,
    "pyarrow.feather": _patch_feather,
    "pyarrow.parquet.core": _patch_parquet_core,
}


def load(path: str) -> Any:
    """This module loaded from `path` under a private name (as the worker does), without importing localaws."""
    spec = importlib.util.spec_from_file_location("_localaws_layer_pyarrow", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
