"""A small client for Attend's KV session API (retrieval attention for LLM serving).

Standard library and numpy only. Vectors travel in the binary bodies of the API (little-endian float32, or
float16 with dtype="float16"); answers of a whole layer come back binary too. Every error of the server is raised
as AttendError with its status, code and message.

    from attend_client import KvClient
    kv = KvClient("http://127.0.0.1:8080")
    kv.create_session("s1", layers=32, kv_heads=8, head_dim=128, query_heads_per_kv_head=4, storage="float16")
    kv.prefill("s1", layer=0, kv_head=0, keys=K, values=V, queries=Q)        # K, V: (T, d); Q: (M, d) prefill queries
    out, lse, scanned = kv.decode_layer("s1", layer=0, position=T, keys=k, values=v, queries=q)
"""

import json
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

__all__ = ["AttendError", "KvClient"]


class AttendError(Exception):
    """An answer of the server outside 2xx: its HTTP status and the error shape's code, message and details."""

    def __init__(self, status, code, message, details=None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class KvClient:
    """One server's KV sessions. ``token``: the bearer token when the server asks for one."""

    def __init__(self, url="http://127.0.0.1:8080", token=None, timeout=120.0, max_body_bytes=8 * 1024 * 1024):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        # prefill bodies are cut to stay within the server's limit (attend.max-body-bytes, 8 MiB by default)
        self.max_body_bytes = max_body_bytes

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _request(self, method, path, params=None, body=None, content_type=None, accept="application/json"):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)["error"]
                raise AttendError(e.code, err.get("code"), err.get("message"), err.get("details")) from None
            except (ValueError, KeyError, TypeError):
                raise AttendError(e.code, "http_error", raw.decode("utf-8", "replace")[:500]) from None

    def _json(self, method, path, payload=None):
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        status, _, raw = self._request(method, path, body=body, content_type="application/json" if body else None)
        return json.loads(raw) if raw else None

    @staticmethod
    def _matrix(name, a, dim, dtype):
        a = np.asarray(a)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != dim:
            raise ValueError(f"{name} must be (n, {dim}), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} holds a value that is not finite")
        return np.ascontiguousarray(a, dtype="<f2" if dtype == "float16" else "<f4")

    @staticmethod
    def _check_dtype(dtype):
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")

    # -- sessions ---------------------------------------------------------------------------------------------

    def create_session(self, id=None, *, layers, kv_heads, head_dim, query_heads_per_kv_head=1, **options):
        """Creates a session; ``options`` are the API's other fields (storage, policy, sinkTokens, windowTokens, topK...)."""
        payload = {"layers": layers, "kvHeads": kv_heads, "headDim": head_dim, "queryHeadsPerKvHead": query_heads_per_kv_head}
        if id is not None:
            payload["id"] = id
        payload.update(options)
        return self._json("POST", "/v1/kv/sessions", payload)

    def session(self, id):
        return self._json("GET", "/v1/kv/sessions/" + urllib.parse.quote(id, safe=""))

    def sessions(self):
        return self._json("GET", "/v1/kv/sessions")["sessions"]

    def delete_session(self, id):
        self._request("DELETE", "/v1/kv/sessions/" + urllib.parse.quote(id, safe=""))

    # -- writes -----------------------------------------------------------------------------------------------

    def prefill(self, id, layer, kv_head, keys, values, queries=None, start=0, query_head=None, dtype="float32"):
        """Stores ``keys``/``values`` (T, d) from position ``start`` and the prefill ``queries`` (M, d) that train the
        head's index, in as many binary calls as the server's body limit asks; the index is built after the last.
        Returns the last call's answer (tokens stored, index state)."""
        self._check_dtype(dtype)
        keys = np.asarray(keys)
        dim = keys.shape[-1]
        keys = self._matrix("keys", keys, dim, dtype)
        values = self._matrix("values", values, dim, dtype)
        if keys.shape != values.shape:
            raise ValueError(f"keys {keys.shape} and values {values.shape} differ")
        queries = np.zeros((0, dim), dtype=keys.dtype) if queries is None else self._matrix("queries", queries, dim, dtype)
        tokens, row = keys.shape[0], dim * keys.dtype.itemsize
        per_call = max(1, (self.max_body_bytes - 4096) // (3 * row))  # keys, values and at most as many queries
        calls = max(1, -(-tokens // per_call), -(-queries.shape[0] // per_call))
        answer = None
        for c in range(calls):
            t0, t1 = tokens * c // calls, tokens * (c + 1) // calls
            q0, q1 = queries.shape[0] * c // calls, queries.shape[0] * (c + 1) // calls
            params = {"layer": layer, "kvHead": kv_head, "from": start + t0, "tokens": t1 - t0, "queries": q1 - q0,
                      "queryHead": query_head, "more": "true" if c < calls - 1 else "false"}
            if dtype == "float16":
                params["dtype"] = "float16"
            body = keys[t0:t1].tobytes() + values[t0:t1].tobytes() + queries[q0:q1].tobytes()
            _, _, raw = self._request("POST", f"/v1/kv/sessions/{urllib.parse.quote(id, safe='')}/prefill", params, body,
                                      "application/octet-stream")
            answer = json.loads(raw)
        return answer

    def append(self, id, layer, kv_head, position, key, value, dtype="float32"):
        """Appends one token (the next position of the head)."""
        self._check_dtype(dtype)
        key = self._matrix("key", key, np.asarray(key).shape[-1], dtype)
        value = self._matrix("value", value, key.shape[1], dtype)
        params = {"layer": layer, "kvHead": kv_head, "position": position}
        if dtype == "float16":
            params["dtype"] = "float16"
        _, _, raw = self._request("POST", f"/v1/kv/sessions/{urllib.parse.quote(id, safe='')}/append", params,
                                  key.tobytes() + value.tobytes(), "application/octet-stream")
        return json.loads(raw)

    # -- answers ----------------------------------------------------------------------------------------------

    def attend(self, id, layer, query_head, query, budget=None):
        """The attention output of one query head: (output as float32 (d,), log-sum-exp, stats)."""
        q = self._matrix("query", query, np.asarray(query).shape[-1], "float32")
        _, _, raw = self._request("POST", f"/v1/kv/sessions/{urllib.parse.quote(id, safe='')}/attend",
                                  {"layer": layer, "queryHead": query_head, "budget": budget}, q.tobytes(), "application/octet-stream")
        r = json.loads(raw)["results"][0]
        return np.asarray(r["output"], dtype=np.float32), float(r["logSumExp"]), r["stats"]

    def decode_layer(self, id, layer, position, keys, values, queries, budget=None, dtype="float32"):
        """One decode step of a whole layer: a key and a value per KV head (kvHeads, d), then a query per query head
        (queryHeads, d) in query-head order. Returns (outputs (queryHeads, d) float32, log-sum-exps (queryHeads,)
        float64, keys scanned per query head)."""
        self._check_dtype(dtype)
        dim = np.asarray(keys).shape[-1]
        keys = self._matrix("keys", keys, dim, dtype)
        values = self._matrix("values", values, dim, dtype)
        queries = self._matrix("queries", queries, dim, dtype)
        params = {"layer": layer, "position": position, "budget": budget}
        if dtype == "float16":
            params["dtype"] = "float16"
        _, headers, raw = self._request("POST", f"/v1/kv/sessions/{urllib.parse.quote(id, safe='')}/decode-layer", params,
                                        keys.tobytes() + values.tobytes() + queries.tobytes(), "application/octet-stream",
                                        accept="application/octet-stream")
        h = queries.shape[0]
        if len(raw) != h * dim * 4 + h * 8:
            raise AttendError(200, "bad_answer", f"a binary answer of {len(raw)} bytes for {h} query heads of dimension {dim}")
        outputs = np.frombuffer(raw, dtype="<f4", count=h * dim).reshape(h, dim)
        lse = np.frombuffer(raw, dtype="<f8", count=h, offset=h * dim * 4)
        lower = {k.lower(): v for k, v in headers.items()}
        scanned = [int(x) for x in lower.get("attend-keys-scanned", "").split(",") if x]
        return outputs, lse, scanned
