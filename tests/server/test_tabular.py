"""Format detection and parsing of uploaded files, without the HTTP layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import UnprocessableEntity
from server.tabular import detect_format, store_upload
from store.blobs import LocalBlobStore


@pytest.mark.parametrize(
    ("filename", "content_type", "head", "expected"),
    [
        ("x.csv", "", b"a,b", "csv"),
        ("x.CSV", "application/octet-stream", b"a,b", "csv"),
        ("blob", "text/csv", b"a,b", "csv"),
        ("", "", b"a,b", "csv"),
        ("x.parquet", "", b"????", "parquet"),
        ("anything.bin", "application/octet-stream", b"PAR1\x15", "parquet"),
    ],
)
def test_the_format_comes_from_magic_bytes_name_or_type(
    filename: str, content_type: str, head: bytes, expected: str
) -> None:
    assert detect_format(filename, content_type, head) == expected


def test_an_unsupported_format_names_the_file_field() -> None:
    with pytest.raises(UnprocessableEntity) as info:
        detect_format("sheet.xlsx", "application/vnd.ms-excel", b"PK\x03\x04")
    assert info.value.details["field"] == "file"
    assert info.value.code == "unsupported_format"


def test_a_header_only_csv_has_columns_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    info, stored = store_upload(path, "csv", LocalBlobStore(tmp_path), "h.parquet")
    assert stored.size == (tmp_path / "h.parquet").stat().st_size
    assert (info.n_rows, [c["name"] for c in info.columns]) == (0, ["a", "b"])
    assert info.preview == []


def test_an_unterminated_quote_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,"2\n3,4\n')
    with pytest.raises(UnprocessableEntity) as info:
        store_upload(path, "csv", LocalBlobStore(tmp_path), "q.parquet")
    assert not (tmp_path / "q.parquet").exists()
    assert info.value.code == "parse_error"
