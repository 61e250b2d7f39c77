"""gunicorn entry point: `gunicorn wsgi:app` (one worker: the model is loaded once per process)."""

from app import create_app

app = create_app()
