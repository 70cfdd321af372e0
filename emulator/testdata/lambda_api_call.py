"""One HTTP call to the emulator's Runtime or Extensions API, at AWS_LAMBDA_RUNTIME_API, for the
test programs beside this file (fake_runtime.py, fake_extension.py)."""
import http.client
import os

# "[::1]:9001" for an IPv6 host: the port follows the last colon, http.client takes the host bare.
HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
HOST = HOST.strip("[]")


def call(method, path, body=None, headers=None, timeout=60):
    """(status, headers, body) of one request on its own connection."""
    conn = http.client.HTTPConnection(HOST, int(PORT), timeout=timeout)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    result = resp.status, dict(resp.getheaders()), data
    conn.close()
    return result
