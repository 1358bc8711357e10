"""Overview and the friendly error pages."""

from crm_web import create_app


def test_overview_shows_queue_and_loads(client, sign_in, factory, make_contact):
    sign_in("supervisor")
    op = factory.operator("Anna", max_load=1)
    source = factory.source(weights={op: 1})
    make_contact(source, phone="+79990000001")
    make_contact(source, phone="+79990000002", name="Waiting Client")
    page = client.get("/").get_data(as_text=True)
    assert "Anna" in page and "1 / 1" in page
    assert 'id="queue-badge"' in page and ">1</span>" in page
    assert "Waiting Client" in page


def test_not_found_page_is_friendly_html(client, sign_in):
    sign_in("supervisor")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)


def test_forbidden_page(client, sign_in):
    sign_in("operator")
    response = client.get("/operators")
    assert response.status_code == 403
    assert "Your role may not open this page." in response.get_data(as_text=True)


def test_bad_request_page_on_missing_csrf(client, sign_in):
    sign_in("supervisor")
    response = client.post("/operators/new", data={"name": "x", "max_load": "1"})
    assert response.status_code == 400
    assert "Bad request" in response.get_data(as_text=True)


def test_server_error_page(database_url):
    app = create_app({"TESTING": False, "SQLALCHEMY_DATABASE_URI": database_url})

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and "kaboom" not in page
