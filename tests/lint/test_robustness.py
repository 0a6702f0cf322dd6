"""Files that cannot be checked get one clear line each; the run continues; nothing is executed."""

from __future__ import annotations

import json
import os
import socket
import time

from training_aware.lint import lint_source
from training_aware.lint.runner import main

from .helpers import CASES


def run_json(capsys, *paths):
    code = main(["--format", "json", *map(str, paths)])
    return code, json.loads(capsys.readouterr().out)


def test_syntax_error_reports_ta000_with_the_parser_line_and_continues(tmp_path, capsys):
    broken = tmp_path / "a_broken.py"
    broken.write_text(
        "import keras\n\n\nclass M(keras.Model):\n    def call(self, x\n        return x\n"
    )
    good = tmp_path / "b_bad.py"
    good.write_bytes((CASES / "ta005_bad.py").read_bytes())
    code, data = run_json(capsys, tmp_path)
    assert code == 1
    assert [(d["path"], d["line"], d["code"]) for d in data] == [
        (str(broken), 5, "TA000"),
        (str(good), 5, "TA005"),
    ]
    assert data[0]["message"].startswith("syntax error: '(' was never closed")


def test_undecodable_bytes(tmp_path, capsys):
    path = tmp_path / "latin.py"
    path.write_bytes(b"x = '\xff\xfe caf\xe9'\n")
    code, data = run_json(capsys, path)
    assert code == 1
    [finding] = data
    assert finding["code"] == "TA000"
    assert finding["message"].startswith("cannot decode: invalid start byte at byte 5 (utf-8)")
    assert "save the file as UTF-8" in finding["message"]


def test_encoding_cookie_is_honoured():
    source = "# -*- coding: latin-1 -*-\nx = 'caf\xe9'\n".encode("latin-1")
    assert lint_source(source, "cookie.py") == []


def test_null_bytes_and_bad_cookie_are_one_line_each():
    [nul] = lint_source(b"x = 1\x00\n", "nul.py")
    assert nul.code == "TA000"
    assert "null bytes" in nul.message
    [cookie] = lint_source(b"# -*- coding: klingon -*-\nx = 1\n", "cookie.py")
    assert cookie.code == "TA000"
    assert "klingon" in cookie.message


def test_empty_file_is_clean(tmp_path, capsys):
    path = tmp_path / "empty.py"
    path.write_bytes(b"")
    assert run_json(capsys, path) == (0, [])


def test_five_megabyte_generated_file(tmp_path, capsys):
    path = tmp_path / "generated.py"
    # Shaped like a protobuf `_pb2.py`: serialized descriptors as bytes literals, plus tables.
    table = "TABLE_{i} = [" + ", ".join(str(n) for n in range(200)) + "]\n"
    blob = "_DESCRIPTOR_{i} = b'" + "\\x0a\\x12" * 250 + "'\n"
    lines = [table.format(i=i) for i in range(500)] + [blob.format(i=i) for i in range(2500)]
    lines.append(
        "import keras\n\nclass M(keras.layers.Layer):\n"
        "    def call(self, x, training=True):\n        return x\n"
        "    def helper(self, x):\n"
        "        if x is not None:\n"
        "            return keras.layers.Dropout(0.5)(x, training=True)\n"
        "print(keras.backend.learning_phase())\n"
    )
    path.write_text("".join(lines))
    assert path.stat().st_size > 5_000_000
    start = time.perf_counter()
    code, data = run_json(capsys, path)
    assert time.perf_counter() - start < 30
    assert code == 1
    assert [(d["code"], d["line"]) for d in data] == [
        ("TA005", 3004),
        ("TA004", 3008),
        ("TA007", 3009),
    ]


def test_deeply_nested_expression_is_one_line():
    source = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    [finding] = lint_source(source, "deep.py")
    assert finding.code == "TA000"


def test_symlink_loop_broken_symlink_and_socket(tmp_path, capsys):
    loop = tmp_path / "loop.py"
    loop.symlink_to(loop)
    broken = tmp_path / "broken.py"
    broken.symlink_to(tmp_path / "missing.py")
    dir_loop = tmp_path / "pkg"
    dir_loop.mkdir()
    (dir_loop / "up").symlink_to(tmp_path, target_is_directory=True)  # a directory link loop
    # As root, chmod 000 does not stop reading; a bound UNIX socket named `*.py` is a path that
    # exists but cannot be opened as a file (open() fails with ENXIO), whoever you are.
    sock_path = tmp_path / "sock.py"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(sock_path))
        code, data = run_json(capsys, tmp_path, sock_path)
    finally:
        sock.close()
    assert code == 1
    by_path = {d["path"]: d for d in data}
    assert set(by_path) == {str(broken), str(loop), str(sock_path)}
    assert all(d["code"] == "TA000" and d["line"] == 1 for d in data)
    assert by_path[str(loop)]["message"].startswith("symbolic link loop")
    assert by_path[str(broken)]["message"].startswith("broken symbolic link (points to")
    assert by_path[str(sock_path)]["message"].startswith("not a regular file (a socket or device)")


def test_fifo_is_never_opened(tmp_path, capsys):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    code, data = run_json(capsys, fifo)  # opening a FIFO without a writer would hang here
    assert code == 1
    assert data[0]["message"].startswith("not a regular file (a FIFO)")


def test_checked_code_is_never_imported_or_executed(tmp_path, capsys):
    marker = tmp_path / "executed.txt"
    victim = tmp_path / "victim.py"
    victim.write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "import keras\n\nclass M(keras.layers.Layer):\n"
        "    def call(self, x, training=True):\n        return x\n"
    )
    code, data = run_json(capsys, victim)
    assert [d["code"] for d in data] == ["TA005"]
    assert code == 1
    assert not marker.exists()
