"""ASGI middleware (Starlette, FastAPI, any ASGI app): no request runs before this process's
after-restore hooks have.

    from snapbus.asgi import SnapbusMiddleware
    app.add_middleware(SnapbusMiddleware)        # FastAPI / Starlette
    app = SnapbusMiddleware(app)                 # any ASGI app
"""
from ._client import CLIENT
from ._hot import generation

_GUARDED_SCOPES = frozenset(("http", "websocket"))


class SnapbusMiddleware:
    """Before each HTTP or WebSocket request: if the generation moved and this process has not run
    its after-restore hooks for it, awaits them (on a thread, so the loop keeps running). Normal
    path: one generation comparison. Starts the watcher unless SNAPBUS_AUTOSTART=0."""

    def __init__(self, app):
        self.app = app
        CLIENT.autostart()

    async def __call__(self, scope, receive, send):
        if generation() != CLIENT.handled_generation and scope["type"] in _GUARDED_SCOPES:
            await CLIENT.check_async()
        await self.app(scope, receive, send)
