"""The app behind the middleware tests, as ASGI (FastAPI) and WSGI (Flask).

Its after-restore hook is slow on purpose (HOOK_SECONDS) and replaces the per-process token, so
a request answered before the hook finished would show the old token.

    uvicorn --factory web_app:make_asgi_app          # FastAPI + snapbus.asgi.SnapbusMiddleware
    python3 web_app.py PORT                          # Flask + snapbus.wsgi.SnapbusMiddleware, wsgiref
    gunicorn --preload 'web_app:make_wsgi_app()'     # the same Flask app, forked workers
"""
import os
import sys
import threading
import time
import uuid

import snapbus

HOOK_SECONDS = 0.5
process_state = {"token": uuid.uuid4().hex, "hook_generation": 0, "hook_thread": None}


@snapbus.after_restore(name="new-token")
def new_token():
    time.sleep(HOOK_SECONDS)
    process_state["token"] = uuid.uuid4().hex
    process_state["hook_generation"] = snapbus.generation()
    process_state["hook_thread"] = threading.current_thread().name


def describe() -> dict:
    return {"pid": os.getpid(), "generation": snapbus.generation(), **process_state}


def make_asgi_app():
    from fastapi import FastAPI
    from snapbus.asgi import SnapbusMiddleware

    app = FastAPI()
    app.add_middleware(SnapbusMiddleware)
    app.get("/token")(describe)
    return app


def make_wsgi_app():
    from flask import Flask, jsonify
    from snapbus.wsgi import SnapbusMiddleware

    app = Flask(__name__)
    app.get("/token")(lambda: jsonify(describe()))
    app.wsgi_app = SnapbusMiddleware(app.wsgi_app)
    return app


if __name__ == "__main__":
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", int(sys.argv[1]), make_wsgi_app(), handler_class=QuietHandler)
    server.serve_forever()
