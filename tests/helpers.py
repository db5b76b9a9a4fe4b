"""Helpers shared by the tests."""

PASSWORD = "correct horse battery staple"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response, status, type_suffix=None):
    """Every error is problem+json with type/title/status/detail."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if type_suffix:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body
