"""The load generator behind ``make bench``: fan-out throughput, latency and capacity.

``python -m tcpchat.bench`` starts each server under test itself (ours on the stdlib loop, ours on
uvloop when it is importable, ngircd when it is installed), drives it from this process over
loopback, and prints a table (``--write`` also puts it in docs/BENCHMARKS.md). The pieces, one
concern each: ``stats`` counts and summarises what receivers saw, ``dialects`` speaks the two wire
protocols, ``peer`` is one client connection, ``servers`` starts and measures a server process,
``scenarios`` runs fan-out, latency and capacity, ``report`` renders the results.
"""
