"""WSGI middleware (Flask, Django, any WSGI app): no request runs before this process's
after-restore hooks have.

    from snapbus.wsgi import SnapbusMiddleware
    app.wsgi_app = SnapbusMiddleware(app.wsgi_app)   # Flask
    application = SnapbusMiddleware(application)     # any WSGI app
"""
from ._client import CLIENT
from ._hot import generation


class SnapbusMiddleware:
    """Before each request: if the generation moved and this process has not run its after-restore
    hooks for it, runs them (or waits for the watcher thread running them). Normal path: one
    generation comparison. Starts the watcher unless SNAPBUS_AUTOSTART=0."""

    def __init__(self, app):
        self.app = app
        CLIENT.autostart()

    def __call__(self, environ, start_response):
        if generation() != CLIENT.handled_generation:
            CLIENT.check()
        return self.app(environ, start_response)
