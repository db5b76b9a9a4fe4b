"""Liveness and readiness probes."""

from api.app import create_app
from tests.helpers import assert_problem


def test_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_ready_when_the_database_answers(client):
    response = client.get("/health/ready")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_not_ready_when_the_database_is_unreachable(config_class):
    unreachable = type(
        "Unreachable",
        (config_class,),
        {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2"},
    )
    response = create_app(unreachable).test_client().get("/health/ready")
    problem = assert_problem(response, 503, "service-unavailable")
    assert "database" in problem["detail"]
    assert response.headers["Retry-After"] == "5"
    assert "psycopg" not in response.get_data(as_text=True)
