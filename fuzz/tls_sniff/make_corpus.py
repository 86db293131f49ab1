#!/usr/bin/env python3
"""Writes the seed corpus of tls_sniff_client_hello_fuzzer: real ClientHellos
from Python's ssl module (OpenSSL) with different SNI, ALPN and versions.

Each seed is one chunking byte followed by the bytes a client sends first.
Run from anywhere: python3 fuzz/tls_sniff/make_corpus.py
"""
import os
import ssl

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus",
                   "tls_sniff_client_hello_fuzzer")


def client_hello(server_name, alpn, min_version, max_version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = min_version
    ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def main():
    os.makedirs(OUT, exist_ok=True)
    v = ssl.TLSVersion
    seeds = {
        "tls13_sni_alpn": (0, "app.example.com", ["h2", "http/1.1"], v.TLSv1_2, v.TLSv1_3),
        "tls12_only": (7, "Mixed.Case.Example", None, v.TLSv1_2, v.TLSv1_2),
        "tls13_only_idn": (33, "xn--bcher-kva.example", ["http/1.1"], v.TLSv1_3, v.TLSv1_3),
        "no_sni": (1, None, ["h2"], v.TLSv1_2, v.TLSv1_3),
    }
    for name, (chunking, sni, alpn, lo, hi) in seeds.items():
        data = bytes([chunking]) + client_hello(sni, alpn, lo, hi)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    # The same hello split across several records, as RFC 8446 allows.
    hello = client_hello("split.example", ["h2"], v.TLSv1_2, v.TLSv1_3)
    handshake = b""
    i = 0
    while i + 5 <= len(hello):
        length = int.from_bytes(hello[i + 3:i + 5], "big")
        handshake += hello[i + 5:i + 5 + length]
        i += 5 + length
    records = b""
    for j in range(0, len(handshake), 100):
        piece = handshake[j:j + 100]
        records += b"\x16\x03\x01" + len(piece).to_bytes(2, "big") + piece
    with open(os.path.join(OUT, "split_records"), "wb") as f:
        f.write(bytes([5]) + records)


if __name__ == "__main__":
    main()
