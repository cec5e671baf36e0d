"""A read-only pyarrow filesystem over moto's S3 store, in-process: a query over many small files opens each one from
memory instead of making HTTP GETs to this same server (a HEAD and ranged GETs per file through pyarrow's S3 client).

Only the scan reads through it (footers and data pages); writes (CTAS, INSERT INTO, UNLOAD) still go through the S3 API,
so S3 event notifications and moto's validation see them as any other client's.
"""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.fs as pafs


class MotoS3Reads(pafs.FileSystemHandler):
    """Paths are `bucket/key`, as pyarrow.fs.S3FileSystem names them. Every touch of moto's objects holds its lock."""

    def __init__(self, account_id: str, moto_lock: threading.RLock) -> None:
        self.account_id, self.moto_lock = account_id, moto_lock

    def _key(self, path: str):
        from moto.s3.models import s3_backends

        bucket, _, key = path.partition("/")
        with self.moto_lock:
            backend = s3_backends[self.account_id]["global"]
            if bucket not in backend.buckets:
                return None
            return backend.get_object(bucket, key)

    def _bytes(self, path: str) -> bytes:
        with self.moto_lock:
            fake_key = self._key(path)
            if fake_key is None:
                raise FileNotFoundError(f"s3://{path} does not exist")
            return fake_key.value

    # -- reads ----------------------------------------------------------------------------------------------------
    def get_type_name(self) -> str:
        return "localaws-moto-s3"

    def equals(self, other) -> bool:
        return isinstance(other, MotoS3Reads) and other.account_id == self.account_id

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths):
        infos = []
        for path in paths:
            with self.moto_lock:
                fake_key = self._key(path)
                size = fake_key.size if fake_key is not None else None
            if size is None:
                infos.append(pafs.FileInfo(path, pafs.FileType.NotFound))
            else:
                infos.append(pafs.FileInfo(path, pafs.FileType.File, size=size))
        return infos

    def open_input_file(self, path: str):
        return pa.PythonFile(pa.BufferReader(self._bytes(path)), mode="r")

    def open_input_stream(self, path: str):
        return self.open_input_file(path)

    # -- everything else: the scan never lists, writes or moves ---------------------------------------------------
    def get_file_info_selector(self, selector):
        raise NotImplementedError("localaws lists S3 through the API")

    def create_dir(self, path, recursive):
        raise NotImplementedError("read-only")

    def delete_dir(self, path):
        raise NotImplementedError("read-only")

    def delete_dir_contents(self, path, missing_dir_ok=False):
        raise NotImplementedError("read-only")

    def delete_root_dir_contents(self):
        raise NotImplementedError("read-only")

    def delete_file(self, path):
        raise NotImplementedError("read-only")

    def move(self, src, dest):
        raise NotImplementedError("read-only")

    def copy_file(self, src, dest):
        raise NotImplementedError("read-only")

    def open_output_stream(self, path, metadata):
        raise NotImplementedError("read-only")

    def open_append_stream(self, path, metadata):
        raise NotImplementedError("read-only")


def moto_s3_filesystem(account_id: str, moto_lock: threading.RLock) -> pafs.PyFileSystem:
    return pafs.PyFileSystem(MotoS3Reads(account_id, moto_lock))
