"""The app gunicorn serves (Procfile: `gunicorn wsgi:app`), built from the environment.

Built here, not in app.py, so that importing app.py (tests, tools, `flask --app app`)
builds nothing; a setting that cannot be used ends the process with one line naming it.
"""

from app import create_app, settle_heap

app = create_app()
settle_heap()
