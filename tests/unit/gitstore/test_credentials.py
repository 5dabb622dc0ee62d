"""Credentials over real smart HTTP (git http-backend behind a server that checks Authorization), and the
guarantee that secrets never reach argv, files on disk, logs or exception messages."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from porch_operator.errors import InvalidSpec, NotFound, StoreAuthError, StoreUnavailable
from porch_operator.gitstore import BasicAuth, BearerToken, GitStore, credentials_from_secret
from porch_operator.gitstore.credentials import check_url
from tests.git_http import GitHttpServer, SilentServer, closed_port

from .conftest import AUTHOR, empty_remote, package

PASSWORD = "s3cr3t-Pa55word-XYZZY"
TOKEN = "tok-0123456789abcdef-PLUGH"
BASIC = BasicAuth(username="tester", password=PASSWORD)
BEARER = BearerToken(token=TOKEN)
SECRETS = (PASSWORD, TOKEN, BASIC.header().split()[1])


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[GitHttpServer]:
    await empty_remote(tmp_path, "repo")
    accepted = {BASIC.header(), BEARER.header()}
    with GitHttpServer(tmp_path / "remotes", accepted) as running:
        yield running


@pytest.fixture
def argv_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Put a `git` first on PATH that records its argv and runs the real git."""
    real = next(Path(d) / "git" for d in os.environ["PATH"].split(os.pathsep) if (Path(d) / "git").is_file())
    wrapper_dir = tmp_path / "wrapper"
    wrapper_dir.mkdir()
    log = tmp_path / "argv.log"
    script = wrapper_dir / "git"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper_dir}{os.pathsep}{os.environ['PATH']}")
    yield log


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("credentials", [BASIC, BEARER], ids=["basic", "bearer"])
async def test_fetch_and_push_with_credentials(
    tmp_path: Path,
    server: GitHttpServer,
    argv_log: Path,
    caplog: pytest.LogCaptureFixture,
    credentials: BasicAuth | BearerToken,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{server.base_url}/repo.git"
    async with GitStore(tmp_path / "cache") as store:
        repo = await store.open(url, credentials=credentials)
        await repo.create_draft("app", "ws", files=package("app"), author=AUTHOR)
        await repo.propose("app", "ws")
        published = await repo.publish("app", "ws", author=AUTHOR)
        assert published.revision == 1
        fetched = await store.read_package(url, ref="app/v1", directory="app", credentials=credentials)
        assert fetched.files == package("app")
        await store.check_connection(url, branch="main", credentials=credentials)
    assert credentials.header() in server.seen_headers
    assert set(server.seen_headers) <= {credentials.header()}, "the header goes with every request"
    assert_no_secret(await asyncio.to_thread(argv_log.read_text))
    assert_no_secret(caplog.text)
    for path in await asyncio.to_thread(lambda: [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]):
        data = await asyncio.to_thread(path.read_bytes)
        for secret in SECRETS:
            assert secret.encode() not in data, f"secret written to {path}"


@pytest.mark.parametrize(
    "credentials",
    [BasicAuth(username="tester", password=PASSWORD + "-wrong"), BearerToken(token=TOKEN + "-wrong"), None],
    ids=["wrong-password", "wrong-token", "none"],
)
async def test_rejected_credentials_are_an_auth_error_without_the_secret(
    tmp_path: Path, server: GitHttpServer, credentials: BasicAuth | BearerToken | None
) -> None:
    url = f"{server.base_url}/repo.git"
    async with GitStore(tmp_path / "cache") as store:
        with pytest.raises(StoreAuthError) as raised:
            await store.open(url, credentials=credentials)
        with pytest.raises(StoreAuthError) as raised_check:
            await store.check_connection(url, credentials=credentials)
    for error in (raised.value, raised_check.value):
        message = str(error)
        assert url in message
        assert_no_secret(message)
        assert PASSWORD + "-wrong" not in message and TOKEN + "-wrong" not in message


async def test_unreachable_and_silent_remotes_are_unavailable(tmp_path: Path) -> None:
    async with GitStore(tmp_path / "cache", timeout=2) as store:
        with pytest.raises(StoreUnavailable, match="Failed to connect"):
            await store.open(f"http://127.0.0.1:{closed_port()}/repo.git", credentials=BASIC)
        silent = SilentServer()
        try:
            with pytest.raises(StoreUnavailable, match="did not finish within 2 seconds"):
                await store.open(f"{silent.base_url}/repo.git")
        finally:
            silent.close()


async def test_missing_repository_is_not_found(tmp_path: Path, server: GitHttpServer) -> None:
    async with GitStore(tmp_path / "cache") as store:
        with pytest.raises(NotFound):
            await store.open(f"{server.base_url}/missing.git", credentials=BASIC)
        with pytest.raises(NotFound):
            await store.open(f"file://{tmp_path}/nothing-here.git")


def test_credentials_never_show_their_secret() -> None:
    for shown in (repr(BASIC), str(BASIC), repr(BEARER), str(BEARER), f"{BASIC} {BEARER!r}"):
        assert_no_secret(shown)
    assert "tester" in repr(BASIC)


def test_credentials_from_secrets() -> None:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    basic = credentials_from_secret("kubernetes.io/basic-auth", {"username": b64("u"), "password": b64("p")})
    assert basic == BasicAuth(username="u", password="p")
    bearer = credentials_from_secret("Opaque", {"bearerToken": b64("t")})
    assert bearer == BearerToken(token="t")
    with pytest.raises(InvalidSpec, match="bearerToken"):
        credentials_from_secret("Opaque", {"token": b64("t")})
    with pytest.raises(InvalidSpec, match="'password'"):
        credentials_from_secret("kubernetes.io/basic-auth", {"username": b64("u")})
    with pytest.raises(InvalidSpec, match=r"kubernetes\.io/tls"):
        credentials_from_secret("kubernetes.io/tls", {})
    with pytest.raises(InvalidSpec, match="base64") as raised:
        credentials_from_secret("Opaque", {"bearerToken": "@@hidden-value@@"})
    assert "hidden-value" not in str(raised.value)


def test_urls_that_would_store_a_secret_are_refused() -> None:
    with pytest.raises(InvalidSpec, match="password"):
        check_url("https://user:hunter2@example.com/repo.git")
    with pytest.raises(InvalidSpec):
        check_url("--upload-pack=evil")
    assert check_url("https://example.com/repo.git") == "https://example.com/repo.git"


async def test_credentials_need_an_http_url(tmp_path: Path) -> None:
    remote = await empty_remote(tmp_path)
    async with GitStore(tmp_path / "cache") as store:
        with pytest.raises(InvalidSpec, match="http"):
            await store.open(remote.url, credentials=BASIC)
