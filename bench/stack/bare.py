"""The bare endpoint of `make bench-stack`: a Flask route returning a constant JSON body.

What gunicorn, Werkzeug and Flask cost per request with no work at all: the ceiling.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/bare")
def bare():
    return {"status": "ok"}
