"""Streams one KV head to a running Attend server and checks its answers against numpy attention.

    python3 example_stream_head.py [--url http://127.0.0.1:8080] [--tokens 8192]

A session of one layer, one KV head and two query heads (d = 64): the head's keys, values and prefill queries in
binary chunks, then decode steps, each answered by retrieval attention and compared with exact attention over every
key in numpy. The session is deleted at the end.
"""

import argparse
import os
import time

import numpy as np

from attend_client import KvClient


def exact_attention(query, keys, values, scale):
    logits = keys.astype(np.float64) @ query.astype(np.float64) * scale
    m = logits.max()
    w = np.exp(logits - m)
    return (w @ values.astype(np.float64)) / w.sum(), m + np.log(w.sum())


def run(url, tokens=8192, steps=8, dim=64, seed=7, policy=None):
    """Returns the largest relative error of the answers against numpy (and the session's stats of the last one)."""
    rng = np.random.default_rng(seed)
    kv = KvClient(url)
    sid = f"py-example-{os.getpid()}-{seed}"
    options = {} if policy is None else {"policy": policy}
    kv.create_session(sid, layers=1, kv_heads=1, head_dim=dim, query_heads_per_kv_head=2, **options)
    try:
        keys = rng.standard_normal((tokens, dim)).astype(np.float32)
        values = rng.standard_normal((tokens, dim)).astype(np.float32)
        # queries that attend to a few keys, as most of an LLM's heads do: each leans on a key (out of the keys'
        # own distribution: longer, and off their directions)
        def leaning(n):
            return (3 * keys[rng.integers(0, len(keys), n)] + rng.standard_normal((n, dim))).astype(np.float32)
        queries = leaning(tokens // 4)
        kv.prefill(sid, 0, 0, keys, values, queries)
        deadline = time.time() + 60
        while time.time() < deadline and "ready" not in str(kv.session(sid)):
            time.sleep(0.2)
        scale = 1 / np.sqrt(dim)
        worst, scanned = 0.0, []
        for step in range(steps):
            k = rng.standard_normal((1, dim)).astype(np.float32)
            v = rng.standard_normal((1, dim)).astype(np.float32)
            q = leaning(2)
            keys, values = np.vstack([keys, k]), np.vstack([values, v])
            out, lse, scanned = kv.decode_layer(sid, 0, tokens + step, k, v, q)
            for h in range(2):
                want, want_lse = exact_attention(q[h], keys, values, scale)
                err = np.linalg.norm(out[h] - want) / np.linalg.norm(want)
                worst = max(worst, float(err))
        return worst, scanned
    finally:
        kv.delete_session(sid)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default=os.environ.get("ATTEND_URL", "http://127.0.0.1:8080"))
    p.add_argument("--tokens", type=int, default=8192)
    a = p.parse_args()
    worst, scanned = run(a.url, a.tokens)
    print(f"retrieval attention over {a.tokens} keys: largest relative error against numpy {worst:.4f}, "
          f"keys scanned per answer {scanned}")
    worst_full, _ = run(a.url, a.tokens, policy="full")
    print(f"policy full (every key): largest relative error {worst_full:.2e}")
