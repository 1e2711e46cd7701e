"""The real download code against a test-made mirror on 127.0.0.1: success, reuse, corruption, 404, truncation."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
import yaml

from hebbdam import cli
from hebbdam.data import download as dl
from hebbdam.data.sources import RemoteSource, remote_source
from hebbdam.errors import HebbdamError

NO_ENV: dict[str, str] = {}


def leftovers(folder: Path) -> list[str]:
    """Names in ``folder`` other than complete files: temporary ``.part`` files and the like."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_default_table_is_torchvisions():
    from torchvision import datasets

    mnist = remote_source("mnist")
    assert mnist.files == dict(datasets.MNIST.resources)
    assert mnist.mirrors[0] == datasets.MNIST.mirrors[0]
    assert remote_source("fashion_mnist").files == dict(datasets.FashionMNIST.resources)
    cifar = remote_source("cifar10")
    assert [cifar.mirrors[0] + f for f in cifar.files] == [datasets.CIFAR10.url]
    assert list(cifar.files.values()) == [datasets.CIFAR10.tgz_md5]


def test_download_from_mirror_then_nothing_to_do(tmp_path, mirror, fakes):
    table_m = fakes.serve(mirror, "mnist", fakes.mnist())
    table_c = fakes.serve(mirror, "cifar10", fakes.cifar())
    for name, table in (("mnist", table_m), ("cifar10", table_c)):
        got = dl.download(name, tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV)
        assert got == table
        folder = tmp_path / "raw" / name
        assert {p.name: dl.md5sum(p) for p in folder.iterdir()} == table
    hits = sum(mirror.hits.values())
    assert hits == 5
    dl.download("mnist", tmp_path, mirror=mirror.url, checksums=table_m, environ=NO_ENV)
    dl.download("cifar10", tmp_path, mirror=mirror.url, checksums=table_c, environ=NO_ENV)
    assert sum(mirror.hits.values()) == hits  # second run: everything present, nothing downloaded


def test_corrupted_download_is_named_and_removed_then_fetched_again(tmp_path, mirror, fakes):
    files = fakes.mnist()
    table = fakes.serve(mirror, "mnist", files)
    bad = "train-labels-idx1-ubyte.gz"
    mirror.files[f"/mnist/{bad}"] = files[bad][:-3] + b"xyz"
    with pytest.raises(dl.ChecksumError) as err:
        dl.download("mnist", tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "raw" / "mnist" / bad) in message and "checksum mismatch" in message
    assert table[bad] in message and "removed" in message
    folder = tmp_path / "raw" / "mnist"
    assert not (folder / bad).exists() and leftovers(folder) == []
    mirror.files[f"/mnist/{bad}"] = files[bad]  # the mirror is repaired: the next run downloads the file again
    assert dl.download("mnist", tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV) == table
    assert dl.md5sum(folder / bad) == table[bad]


def test_corrupt_file_on_disk_is_removed(tmp_path, mirror, fakes):
    table = fakes.serve(mirror, "cifar10", fakes.cifar())
    dl.download("cifar10", tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV)
    path = tmp_path / "raw" / "cifar10" / "cifar-10-python.tar.gz"
    path.write_bytes(path.read_bytes()[:100])  # truncated on disk
    with pytest.raises(dl.ChecksumError, match="found on disk"):
        dl.download("cifar10", tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV)
    assert not path.exists()


def test_404_names_dataset_url_and_mirror_setting(tmp_path, mirror, fakes):
    table = fakes.serve(mirror, "mnist", fakes.mnist())
    del mirror.files["/mnist/t10k-images-idx3-ubyte.gz"]
    with pytest.raises(HebbdamError) as err:
        dl.download("mnist", tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV)
    message = str(err.value)
    assert message.startswith("mnist: cannot download t10k-images-idx3-ubyte.gz from your mirror")
    assert f"{mirror.url}mnist/t10k-images-idx3-ubyte.gz (HTTP 404" in message
    assert "HEBBDAM_MIRROR_MNIST=" in message and "data.mirror" in message and "\n" not in message
    assert not (tmp_path / "raw" / "mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_connection_closed_mid_file_leaves_nothing(tmp_path, mirror, fakes):
    table = fakes.serve(mirror, "cifar10", fakes.cifar())
    mirror.truncate.add("/cifar10/cifar-10-python.tar.gz")
    with pytest.raises(HebbdamError, match=r"connection closed after \d+ of \d+ bytes"):
        dl.download("cifar10", tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV)
    assert list((tmp_path / "raw" / "cifar10").iterdir()) == []


def test_stalled_server_times_out(tmp_path, mirror, fakes):
    table = fakes.serve(mirror, "cifar10", fakes.cifar())
    mirror.stall.add("/cifar10/cifar-10-python.tar.gz")
    with pytest.raises(HebbdamError, match=r"no (data|answer) for|within 0.3 s"):
        dl.download("cifar10", tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV, timeout=0.3)
    assert list((tmp_path / "raw" / "cifar10").iterdir()) == []


def test_interrupted_download_never_looks_complete(tmp_path, mirror, fakes, monkeypatch):
    table = fakes.serve(mirror, "cifar10", fakes.cifar())
    real_urlopen = urllib.request.urlopen

    class Interrupting:
        def __init__(self, response):
            self.response, self.calls = response, 0
            self.headers = response.headers

        def read(self, n):
            self.calls += 1
            if self.calls > 1:
                raise KeyboardInterrupt
            return self.response.read(16)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.response.close()

    monkeypatch.setattr(dl.urllib.request, "urlopen", lambda *a, **k: Interrupting(real_urlopen(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        dl.download("cifar10", tmp_path, mirror=mirror.url, checksums=table, environ=NO_ENV)
    assert list((tmp_path / "raw" / "cifar10").iterdir()) == []


def test_no_network_dns_failure_one_line(tmp_path, monkeypatch):
    """torchvision's real URLs with name resolution failing (as with no network): no byte leaves the machine."""

    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(HebbdamError) as err:
        dl.download("mnist", tmp_path, environ=NO_ENV, timeout=2)
    message = str(err.value)
    first = remote_source("mnist").mirrors[0] + "train-images-idx3-ubyte.gz"
    assert message.startswith("mnist: cannot download train-images-idx3-ubyte.gz from torchvision's URLs: ")
    assert f"{first} (Temporary failure in name resolution)" in message and "also tried" in message
    assert "HEBBDAM_MIRROR_MNIST=" in message and "\n" not in message
    assert leftovers(tmp_path / "raw" / "mnist") == []


def test_connection_refused_through_cli(tmp_path, capsys):
    """A mirror nobody listens on, through the CLI: exit code 2 and one line on stderr."""
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = tmp_path / "params.yaml"
    data = {
        "sources": ["digits", "fashion_mnist"],
        "root": str(tmp_path / "data"),
        "mirror": f"http://127.0.0.1:{port}",
    }
    params.write_text(yaml.safe_dump({"data": data}))
    assert cli.main(["download", "--params", str(params)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("hebbdam: error: fashion_mnist: cannot download train-images-idx3-ubyte.gz")
    assert f"http://127.0.0.1:{port}/fashion_mnist/train-images-idx3-ubyte.gz (Connection refused)" in err[-1]
    assert not (tmp_path / "data" / "raw" / "downloads.json").exists()


def test_cli_download_offline_sources_only(tmp_path, mirror):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"sources": ["digits", "synthetic"], "root": str(tmp_path)}}))
    assert cli.main(["download", "--params", str(params)]) == 0
    assert (tmp_path / "raw" / "downloads.json").read_text() == "{}\n"
    assert sum(mirror.hits.values()) == 0


def test_cli_download_through_mirror_env(tmp_path, mirror, fakes, monkeypatch):
    table = fakes.serve(mirror, "mnist", fakes.mnist())
    fake = RemoteSource("mnist", ("http://127.0.0.1:9/never/",), table)
    monkeypatch.setattr(dl, "remote_source", lambda name: fake)
    monkeypatch.setenv("HEBBDAM_MIRROR", mirror.url)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"sources": ["digits", "mnist"], "root": str(tmp_path)}}))
    assert cli.main(["download", "--params", str(params)]) == 0
    assert yaml.safe_load((tmp_path / "raw" / "downloads.json").read_text()) == {"mnist": table}
    assert cli.main(["download", "--params", str(params), "cifar10"]) == 2  # not in data.sources


def test_mirror_precedence_and_local_folder(tmp_path, fakes):
    defaults = ("https://a.example/x/",)
    env = {"HEBBDAM_MIRROR": "https://all.example", "HEBBDAM_MIRROR_MNIST": "https://one.example/m"}
    assert dl.mirror_bases("mnist", defaults, "p", {"mnist": "q"}, env) == (["https://one.example/m/"], True)
    assert dl.mirror_bases("cifar10", defaults, "p", {}, env) == (["https://all.example/cifar10/"], True)
    assert dl.mirror_bases("mnist", defaults, "https://p", {"mnist": "https://q"}, {}) == (["https://q/"], True)
    assert dl.mirror_bases("mnist", defaults, "https://p", {}, {}) == (["https://p/mnist/"], True)
    assert dl.mirror_bases("mnist", defaults, None, None, {}) == (list(defaults), False)
    # a plain folder path is a file:// mirror with the data/raw layout
    copy = tmp_path / "copy" / "mnist"
    copy.mkdir(parents=True)
    files = fakes.mnist()
    for filename, data in files.items():
        (copy / filename).write_bytes(data)
    table = {f: fakes.md5(d) for f, d in files.items()}
    assert dl.download("mnist", tmp_path / "out", mirror=str(tmp_path / "copy"), checksums=table, environ={}) == table
