"""The XML-API uploads of Cloud Storage in front of fake-gcs-server, so delta-rs writes Delta tables to the GCS
emulator as it writes them to GCS.

delta-rs (the ``object_store`` crate) talks to GCS through the XML API: it lists with ``GET /<bucket>?list-type=2``,
reads with ``GET``/``HEAD /<bucket>/<object>`` (fake-gcs-server answers both when its ``-public-host`` is its own
address) and writes with ``PUT /<bucket>/<object>``, a commit being conditional on ``x-goog-if-generation-match: 0``
(create only if absent). fake-gcs-server takes XML ``PUT`` only as signed-URL uploads ("invalid uploadType") and
ignores a listing's ``start-after`` (delta-rs then finds the version it just read "newer" than itself and refuses
the table: "Invalid table version"). This process forwards every request unchanged to the emulator, except:

- an object ``PUT`` becomes the JSON API's multipart upload with ``ifGenerationMatch`` (the emulator ignores the
  condition on media uploads), a ``PUT`` with ``x-goog-copy-source`` becomes ``copyTo``; the answer carries the
  ``ETag`` and ``x-goog-generation`` headers of the XML API, and a lost conditional write is the emulator's own
  ``412 Precondition Failed``;
- a listing with ``start-after`` loses the keys up to it.

XML multipart uploads (objects above delta-rs's 10 MB part size) are not translated: the emulator refuses them.

Run as ``python -m mlops.local.gcs_xml --upstream http://127.0.0.1:<gcs> --port <port>``; it is started and stopped
with the emulator by :mod:`mlops.local.gcp_emulators`, out of process (delta-rs holds the GIL while it waits).
"""

from __future__ import annotations

import argparse
import json
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.etree import ElementTree

import httpx

_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding", "host"})


class XmlUploads(BaseHTTPRequestHandler):
    """Forwards to ``server.upstream``; translates XML object uploads and copies."""

    protocol_version = "HTTP/1.1"
    upstream: httpx.Client  # set on the class by :func:`serve`

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the emulator logs the requests it serves

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, answer: httpx.Response, extra: dict[str, str] | None = None, body: bytes | None = None) -> None:
        content = answer.content if body is None else body
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def _forward(self) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        self._reply(self.upstream.request(self.command, self.path, headers=headers, content=self._body()))

    do_HEAD = do_DELETE = do_POST = _forward

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        after = query.get("start-after", [""])[0]
        if "list-type" not in query or not after:
            self._forward()
            return
        answer = self.upstream.get(self.path)
        if answer.status_code != 200:
            self._reply(answer)
            return
        self._reply(answer, body=_keys_after(answer.content, after))

    def do_PUT(self) -> None:
        path = urlsplit(self.path).path
        bucket, _, name = path.lstrip("/").partition("/")
        if path.startswith(("/storage/", "/upload/", "/download/", "/_internal/")) or not name:
            self._forward()
            return
        params = {}
        match = self.headers.get("x-goog-if-generation-match")
        if match is not None:
            params["ifGenerationMatch"] = match
        source = self.headers.get("x-goog-copy-source")
        if source is not None:
            answer = self._copy(unquote(source).lstrip("/"), bucket, unquote(name), params)
        else:
            kind = self.headers.get("Content-Type", "application/octet-stream")
            params["uploadType"] = "multipart"  # fake-gcs-server checks ifGenerationMatch on these, not on media
            body, boundary = _related(unquote(name), kind, self._body())
            answer = self.upstream.post(
                f"/upload/storage/v1/b/{bucket}/o",
                params=params,
                content=body,
                headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
            )
        if answer.status_code != 200:
            self._reply(answer)
            return
        meta = answer.json()
        etag = f'"{meta.get("etag") or meta.get("md5Hash") or meta.get("generation")}"'
        self._reply(answer, {"ETag": etag, "x-goog-generation": str(meta.get("generation", ""))}, body=b"")

    def _copy(self, source: str, bucket: str, name: str, params: dict[str, str]) -> httpx.Response:
        self._body()  # a copy has no body, but drain whatever was sent
        source_bucket, _, source_name = source.partition("/")
        target = f"/storage/v1/b/{source_bucket}/o/{quote(source_name, safe='')}/copyTo/b/{bucket}/o/"
        return self.upstream.post(target + quote(name, safe=""), params=params, content=json.dumps({}))


def _related(name: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    """A JSON API multipart upload body: the object's metadata, then its bytes."""
    boundary = f"mlops-{uuid.uuid4().hex}"
    metadata = json.dumps({"name": name, "contentType": content_type})
    head = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n"
        f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def _keys_after(listing: bytes, after: str) -> bytes:
    """An XML ``ListBucketResult`` without the objects whose key sorts at or before ``after``."""
    # the emulator's own answer on loopback, not outside input
    root = ElementTree.fromstring(listing)
    for contents in root.findall("Contents"):
        if (contents.findtext("Key") or "") <= after:
            root.remove(contents)
    count = root.find("KeyCount")
    if count is not None:
        count.text = str(len(root.findall("Contents")) + len(root.findall("CommonPrefixes")))
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def serve(upstream: str, host: str, port: int) -> None:
    """Answer on ``host:port`` until killed."""
    XmlUploads.upstream = httpx.Client(base_url=upstream, timeout=120)
    ThreadingHTTPServer((host, port), XmlUploads).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--upstream", required=True, help="the GCS emulator's URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    serve(arguments.upstream, arguments.host, arguments.port)


if __name__ == "__main__":
    main()
