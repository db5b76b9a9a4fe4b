"""The suite drops the `public` schema of TEST_DATABASE_URL: only ever on a database named as a test one.

Pure functions on URLs: no database is needed, and none is ever connected to (the refused URLs
point at a closed port, so a guard that let one through would fail on connecting, not drop).
"""

import pytest

from config import database_url
from tests.conftest import test_database_url
from tests.helpers import database_name_of, is_test_database, not_a_test_database_message

ALLOWED = [
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",  # what CI uses
    "postgresql+psycopg://postgres@127.0.0.1:5432/test_helper",
    "postgresql+psycopg://postgres:secret@db.example.org/journal_test?sslmode=require",
    "postgresql+psycopg://postgres@127.0.0.1:5432/test_",
    "sqlite:////tmp/somewhere/journal_test.db",
    "sqlite:////tmp/somewhere/test.sqlite",
]

REFUSED = [
    "postgresql+psycopg://postgres@127.0.0.1:5432/journal",
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "postgresql+psycopg://postgres@127.0.0.1:5432/",  # no name: the server picks the user's database
    "postgresql+psycopg://postgres@127.0.0.1:5432",
    "postgresql+psycopg://postgres@127.0.0.1:5432/testing",
    "postgresql+psycopg://postgres@127.0.0.1:5432/contest",
    "postgresql+psycopg://postgres@127.0.0.1:5432/latest",
    "postgresql+psycopg://postgres@127.0.0.1:5432/test-1",
    "postgresql+psycopg://postgres@127.0.0.1:5432/Test",
    "postgresql+psycopg://postgres@127.0.0.1:5432/my_test_db",
    "postgresql+psycopg://postgres@127.0.0.1:5432/journal?options=-csearch_path%3Dtest",
    "sqlite:////tmp/test_dir/journal.db",  # the folder's name does not count
    "sqlite://",  # in memory: no name
    "not a database url",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_databases_named_as_test_ones_are_allowed(url):
    assert is_test_database(url) is True
    assert is_test_database(database_url(url)) is True


@pytest.mark.parametrize("url", REFUSED)
def test_every_other_database_is_refused(url):
    assert is_test_database(url) is False


def test_the_name_is_the_urls_database_part():
    assert database_name_of("postgresql+psycopg://u:p@h:1/test_x?sslmode=require") == "test_x"
    assert database_name_of("postgres://u@h/test") == "test"
    assert database_name_of("sqlite:////a/test_b/c_test.db") == "c_test"
    assert database_name_of("postgresql+psycopg://u@h") is None
    assert database_name_of("not a database url") is None


def test_the_refusal_says_why_and_how_without_the_password():
    message = not_a_test_database_message("postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:9/journal")
    assert "s3cret-pw" not in message
    assert "DROP SCHEMA" in message and "'journal'" in message and "127.0.0.1:9/journal" in message
    assert "`test`" in message and "`test_`" in message and "`_test`" in message
    assert "CREATE DATABASE" in message and "TEST_DATABASE_URL" in message


@pytest.mark.parametrize("name", ["journal", "postgres", "production"])
def test_the_fixture_stops_the_run_before_touching_a_database_not_named_as_a_test_one(
    monkeypatch, tmp_path_factory, name
):
    # port 9 (discard) is closed: without the guard this would fail on connecting, never drop anything
    monkeypatch.setenv("TEST_DATABASE_URL", f"postgres://postgres:pw@127.0.0.1:9/{name}")
    with pytest.raises(pytest.exit.Exception) as stopped:
        test_database_url(tmp_path_factory)
    assert stopped.value.returncode == pytest.ExitCode.USAGE_ERROR
    assert "Refusing to DROP SCHEMA public CASCADE" in stopped.value.msg and repr(name) in stopped.value.msg
    assert ":pw@" not in stopped.value.msg


def test_the_fixture_without_test_database_url_uses_a_new_sqlite_file(monkeypatch, tmp_path_factory):
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    assert test_database_url(tmp_path_factory).startswith("sqlite:///")
