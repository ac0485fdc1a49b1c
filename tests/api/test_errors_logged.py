"""A request that fails unexpectedly is answered 500 and logged with its traceback."""

from __future__ import annotations

import logging

from litestar import Litestar, get
from litestar.testing import TestClient

from pitwall.api.app import log_unexpected


@get("/boom", sync_to_thread=False)
def boom() -> str:
    raise RuntimeError("kaboom")


@get("/missing", sync_to_thread=False)
def missing() -> str:
    from litestar.exceptions import NotFoundException
    raise NotFoundException("no such race")


def test_unexpected_errors_are_logged_and_client_errors_are_not(caplog):
    app = Litestar([boom, missing], logging_config=None, after_exception=[log_unexpected])
    with caplog.at_level(logging.ERROR, logger="pitwall.api.app"), TestClient(app) as client:
        assert client.get("/boom").status_code == 500
        assert client.get("/missing").status_code == 404
    records = [r for r in caplog.records if r.name == "pitwall.api.app"]
    assert len(records) == 1
    assert "GET /boom failed" in records[0].getMessage()
    assert "kaboom" in str(records[0].exc_info[1])


def test_the_api_app_has_the_hook(settings):
    from pitwall.api.app import create_app

    assert log_unexpected in create_app(settings).after_exception
