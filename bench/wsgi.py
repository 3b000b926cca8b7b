"""The app gunicorn serves for the benchmark: Jindou plus one bare endpoint
(one INSERT + commit, no auth) as the baseline a scan is compared with."""

from flask import Blueprint
from sqlalchemy import text

from core import create_app
from core.extensions import db

app = create_app()
bare = Blueprint("bench", __name__)


@bare.post("/api/v1/bench/bare")
def insert_one():
    db.session.execute(text("INSERT INTO bench_bare (at) VALUES (CURRENT_TIMESTAMP)"))
    db.session.commit()
    return {"ok": True}


app.register_blueprint(bare)
