"""Tests of attend_client against a running server (ATTEND_URL); PythonClientTest in the server module runs them."""

import os
import unittest

import numpy as np

import example_stream_head
from attend_client import AttendError, KvClient

URL = os.environ.get("ATTEND_URL", "http://127.0.0.1:8080")


class KvClientTest(unittest.TestCase):

    def setUp(self):
        self.kv = KvClient(URL)
        self.rng = np.random.default_rng(11)

    def test_sessions_are_created_listed_and_deleted(self):
        s = self.kv.create_session("py-life", layers=2, kv_heads=2, head_dim=16, query_heads_per_kv_head=2)
        self.assertEqual(s["id"], "py-life")
        self.assertIn("py-life", [x["id"] for x in self.kv.sessions()])
        self.kv.delete_session("py-life")
        with self.assertRaises(AttendError) as e:
            self.kv.session("py-life")
        self.assertEqual(e.exception.status, 404)

    def test_every_key_answers_as_numpy_in_float32_and_float16(self):
        for storage in ("float32", "float16"):
            sid = "py-full-" + storage
            dim, tokens = 32, 3000
            self.kv.create_session(sid, layers=1, kv_heads=2, head_dim=dim, query_heads_per_kv_head=2, policy="full", storage=storage)
            try:
                keys = self.rng.standard_normal((2, tokens, dim)).astype(np.float32)
                values = self.rng.standard_normal((2, tokens, dim)).astype(np.float32)
                for h in range(2):
                    # a small body limit: the prefill goes in several calls
                    small = KvClient(URL, max_body_bytes=200_000)
                    small.prefill(sid, 0, h, keys[h], values[h], keys[h][:100] * 0.5)
                k = self.rng.standard_normal((2, dim)).astype(np.float32)
                v = self.rng.standard_normal((2, dim)).astype(np.float32)
                q = self.rng.standard_normal((4, dim)).astype(np.float32)
                out, lse, scanned = self.kv.decode_layer(sid, 0, tokens, k, v, q)
                self.assertEqual(out.shape, (4, dim))
                self.assertEqual(scanned, [tokens + 1] * 4)
                for qh in range(4):
                    h = qh // 2
                    all_k = np.vstack([keys[h], k[h:h + 1]])
                    all_v = np.vstack([values[h], v[h:h + 1]])
                    if storage == "float16":  # the server holds the rounded values
                        all_k, all_v = all_k.astype(np.float16), all_v.astype(np.float16)
                    want, want_lse = example_stream_head.exact_attention(q[qh], all_k, all_v, 1 / np.sqrt(dim))
                    np.testing.assert_allclose(out[qh], want, rtol=1e-3, atol=1e-4)
                    self.assertAlmostEqual(lse[qh], want_lse, places=3)
                single, single_lse, stats = self.kv.attend(sid, 0, 3, q[3])
                np.testing.assert_allclose(single, out[3], rtol=1e-5, atol=1e-6)
                self.assertEqual(stats["keysScanned"], tokens + 1)
            finally:
                self.kv.delete_session(sid)

    def test_retrieval_attention_is_close_to_numpy(self):
        worst, scanned = example_stream_head.run(URL, tokens=4096, steps=4)
        self.assertLess(worst, 0.25)
        self.assertTrue(all(0 < s < 4100 for s in scanned), scanned)

    def test_bad_input_is_refused(self):
        self.kv.create_session("py-bad", layers=1, kv_heads=1, head_dim=8)
        try:
            with self.assertRaises(ValueError):  # refused before it is sent
                self.kv.prefill("py-bad", 0, 0, np.zeros((4, 8)), np.zeros((4, 7)))
            with self.assertRaises(ValueError):
                self.kv.append("py-bad", 0, 0, 0, np.full(8, np.nan), np.zeros(8))
            with self.assertRaises(AttendError) as e:  # the server's answer: a position out of order
                self.kv.append("py-bad", 0, 0, 5, np.zeros(8), np.zeros(8))
            self.assertEqual(e.exception.status, 400)
            self.assertTrue(e.exception.message)
        finally:
            self.kv.delete_session("py-bad")


if __name__ == "__main__":
    unittest.main()
