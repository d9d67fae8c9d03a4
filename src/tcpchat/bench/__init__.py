"""The load generator behind ``make bench``: fan-out throughput, latency (the steady load), rooms,
capacity, a join storm, and history replay and search.

``python -m tcpchat.bench`` starts each server under test itself (ours on the stdlib loop and on
uvloop when it is importable, each with history and without, and ngircd when it is installed),
drives it from this process over loopback, and prints a table (``--write`` also puts it in
docs/BENCHMARKS.md). The pieces, one concern each: ``stats`` counts and summarises what receivers
saw, ``dialects`` speaks the two wire protocols, ``peer`` is one client connection, ``servers``
starts and measures a server process, ``specs`` says what each scenario is asked, ``measure``
holds what the scenarios share, ``scenarios`` runs fan-out, latency and capacity and says which
server runs what, ``rooms``, ``storm`` and ``replay`` run the scenarios of rooms and history,
``report`` renders the results.
"""
